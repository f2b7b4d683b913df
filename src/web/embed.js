// web/embed.js — puts the booking page on another website:
//
//   <script src="https://book.example.com/static/embed.js"
//           data-path="/coach/intro" async></script>
//
// inserts an iframe of the page (data-path: "/", "/{host}" or
// "/{host}/{event-type}") right after the script tag and keeps its height
// to the page's, which the page posts ("bookingd:height"). The site's
// origin must be listed in BOOKINGD_EMBED_ORIGINS (docs/booking-page.md).
(function () {
  "use strict";
  var s = document.currentScript;
  if (!s || !s.src)
    return;
  var base = new URL(s.src).origin;
  var path = s.getAttribute("data-path") || "/";
  if (!/^\/(?:[a-z0-9-]+(?:\/[a-z0-9-]+)?)?$/.test(path))
    path = "/";
  var frame = document.createElement("iframe");
  frame.src = base + path;
  frame.title = s.getAttribute("data-title") || "Book a time";
  frame.style.width = "100%";
  frame.style.border = "0";
  frame.style.height = "640px";
  s.parentNode.insertBefore(frame, s.nextSibling);
  window.addEventListener("message", function (ev) {
    var d = ev.data;
    if (ev.origin !== base || ev.source !== frame.contentWindow || !d ||
        d.type !== "bookingd:height" || typeof d.height !== "number" ||
        !(d.height > 0 && d.height < 20000))
      return;
    frame.style.height = Math.ceil(d.height) + "px";
  });
})();
