// The submission form shows only the chosen model type's settings. Without this script every type's
// settings stay visible, each labelled with its type, and the server reads only the chosen type's.
(function () {
  "use strict";
  function showChosen(select) {
    var chosen = select.value;
    document.querySelectorAll("fieldset.kind-settings").forEach(function (fieldset) {
      var mine = fieldset.getAttribute("data-kind") === chosen;
      fieldset.hidden = !mine;
      fieldset.disabled = !mine;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.querySelector("select[data-kind-select]");
    if (!select) {
      return;
    }
    document.querySelectorAll("fieldset.kind-settings .kind-only").forEach(function (note) {
      note.hidden = true;
    });
    select.addEventListener("change", function () {
      showChosen(select);
    });
    showChosen(select);
  });
})();
