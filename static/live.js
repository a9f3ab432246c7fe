/* Live pages (/submissions/{id}, /queue): follow the run without reloading.
 *
 * Progressive enhancement: the page is complete without this script (and refreshes itself through a
 * <noscript> meta refresh). With it, the page listens to the server-sent events of the API (the JSON status,
 * whenever it changes) and, on each change, sets the announced headline from the status and fetches the
 * page again to swap in the region marked data-live-region. Without EventSource, or when the stream cannot
 * be opened, it polls the JSON status instead.
 */
(function () {
  "use strict";

  var region = document.querySelector("[data-live-region]");
  if (!region || !window.fetch || !window.DOMParser) {
    return;
  }
  var eventsUrl = region.getAttribute("data-events-url");
  var statusUrl = region.getAttribute("data-status-url");
  var headline = document.getElementById("live-headline");
  var followAlways = region.getAttribute("data-live-follow") === "always";
  var POLL_MS = 3000;
  var lastText = null;
  var source = null;
  var polling = false;
  var refreshing = false;
  var again = false;

  function swapRegion(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live-region]");
    if (!fresh) {
      return;
    }
    var nodes = [];
    fresh.childNodes.forEach(function (node) {
      nodes.push(document.importNode(node, true));
    });
    region.replaceChildren.apply(region, nodes);
    region.setAttribute("data-live-state", fresh.getAttribute("data-live-state") || "");
  }

  function refreshRegion() {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    fetch(window.location.pathname + window.location.search, {
      headers: { Accept: "text/html" },
      cache: "no-store",
      credentials: "same-origin"
    })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html) {
          swapRegion(html);
        }
      })
      .catch(function () {})
      .then(function () {
        refreshing = false;
        if (again) {
          again = false;
          refreshRegion();
        }
      });
  }

  /* Take one JSON status; returns it parsed (null when unreadable). */
  function take(text) {
    var status;
    try {
      status = JSON.parse(text);
    } catch (error) {
      return null;
    }
    if (text !== lastText) {
      lastText = text;
      if (headline && typeof status.headline === "string") {
        headline.textContent = status.headline;
      }
      refreshRegion();
    }
    return status;
  }

  function poll() {
    if (polling) {
      return;
    }
    polling = true;
    var step = function () {
      fetch(statusUrl, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) {
          return response.ok ? response.text() : null;
        })
        .then(function (text) {
          var status = text ? take(text) : null;
          if (!status || status.active !== false) {
            window.setTimeout(step, POLL_MS);
          } else if (followAlways) {
            window.setTimeout(step, POLL_MS * 2); /* an idle queue: look again now and then */
          } else {
            polling = false;
          }
        })
        .catch(function () {
          window.setTimeout(step, POLL_MS);
        });
    };
    step();
  }

  function listen() {
    var opened = false;
    source = new EventSource(eventsUrl);
    source.addEventListener("open", function () {
      opened = true;
    });
    source.addEventListener("status", function (event) {
      take(event.data);
    });
    source.addEventListener("end", function () {
      /* The submission is finished: nothing more will come. The queue's stream ends while it is idle;
         it is reopened after a pause, so a new submission shows up. */
      source.close();
      if (followAlways) {
        window.setTimeout(listen, POLL_MS * 2);
      }
    });
    source.addEventListener("error", function () {
      if (!opened || source.readyState === EventSource.CLOSED) {
        source.close();
        poll(); /* the stream could not be opened (or was refused): poll the JSON status */
      }
    });
  }

  region.setAttribute("data-live-mode", window.EventSource ? "events" : "polling");
  if (window.EventSource && eventsUrl) {
    listen();
  } else {
    poll();
  }
})();
