// Copy buttons: <button data-copy-target="element-id"> copies that element's text, or its
// data-copy-value when it has one (a secret shown in groups is copied without the spaces).
(function () {
  "use strict";
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    var label = button.textContent;
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      if (!target || !navigator.clipboard) {
        button.textContent = "Select the text and copy it";
        return;
      }
      var text = target.getAttribute("data-copy-value") || target.textContent.trim();
      navigator.clipboard.writeText(text).then(
        function () {
          button.textContent = "Copied";
          window.setTimeout(function () { button.textContent = label; }, 2000);
        },
        function () { button.textContent = "Copy failed: select the text and copy it"; }
      );
    });
  });
})();
