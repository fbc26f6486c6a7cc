// Copy buttons: <button data-copy-target="element-id"> copies that element's text.
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
      navigator.clipboard.writeText(target.textContent.trim()).then(
        function () {
          button.textContent = "Copied";
          window.setTimeout(function () { button.textContent = label; }, 2000);
        },
        function () { button.textContent = "Copy failed: select the text and copy it"; }
      );
    });
  });
})();
