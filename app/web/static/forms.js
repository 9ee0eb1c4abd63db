// Almanac: plain (non-htmx) forms that ask first. <form data-confirm="Delete x?"> submits
// only when the person agrees (inline onsubmit handlers are refused by the page's CSP).
(function () {
  "use strict";
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) evt.preventDefault();
  }, true);
})();
