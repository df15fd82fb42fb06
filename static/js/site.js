/*
 * The site's one script (templates/base.html loads it, by the page's CSP nonce, with htmx).
 *
 * The site is one document: htmx's boost turns links and forms within it into soft
 * navigations that swap #page, and #research-shell, outside it, keeps the research frame, so
 * the person's JupyterLab lives from page to page. After every page (a full load, a swap, a
 * history restore) this script reads #page-state and:
 *
 * - on /research, shows the frame that is alive, or makes one (a full page load instead when
 *   this document's policy may not frame that hub, see data-frame-origin on <html>); a
 *   ?path= is opened in the living lab by message, not by reloading it;
 * - elsewhere, parks the frame: hidden, inert, still running;
 * - when the page says so (data-prestart), has the person's hub start their server in the
 *   background through their own login: a hidden frame on the hub's spawn page, once a tab;
 * - retries a "no hub yet" page after its data-retry-after.
 *
 * A rendered notebook's frame (community) is fitted to the height its page reports, and
 * the page scrolls to a heading the frame was pointed at (the topic's outline).
 *
 * Messages to and from the lab (the quanthub JupyterLab extension) name the hub's exact
 * origin and are taken only from the frame's own window at that origin.
 */
(function () {
  "use strict";

  var shell = document.getElementById("research-shell");
  // The hub this document's Content-Security-Policy lets it frame (frame-src), if any.
  var frameOrigin = document.documentElement.getAttribute("data-frame-origin") || "";
  // How long an open waits for the lab to answer before the frame is pointed at the file
  // (a lab without the message protocol, e.g. a hub one release behind).
  var OPEN_TIMEOUT_MS = 15000;

  var lab = { frame: null, origin: "", labUrl: "", ready: false, queue: [], pending: {}, nextId: 1 };
  var warmedUp = false;
  var retryTimer = null;

  function pageState() {
    var element = document.getElementById("page-state");
    return element ? element.dataset : {};
  }

  function originOf(url) {
    try {
      return new URL(url, window.location.href).origin;
    } catch (error) {
      return "";
    }
  }

  function showShell(shown) {
    shell.classList.toggle("parked", !shown);
    if (shown) {
      shell.removeAttribute("inert");
    } else {
      shell.setAttribute("inert", "");
    }
    document.body.classList.toggle("research", shown);
  }

  function adopt(frame) {
    lab.frame = frame;
    lab.origin = originOf(frame.src);
    lab.ready = false;
    lab.queue = [];
    lab.pending = {};
  }

  function makeFrame(url) {
    if (lab.frame) {
      lab.frame.remove();
    }
    var frame = document.createElement("iframe");
    frame.className = "research-frame";
    frame.id = "research-frame";
    frame.title = "JupyterLab";
    frame.setAttribute("allow", "clipboard-read; clipboard-write");
    frame.src = url;
    shell.appendChild(frame);
    adopt(frame);
  }

  function post(message) {
    if (lab.frame && lab.frame.contentWindow && lab.origin) {
      // The target origin is the hub's: while the frame is elsewhere (a login redirect),
      // the browser drops the message instead of handing it to another page.
      lab.frame.contentWindow.postMessage(message, lab.origin);
    }
  }

  function flush() {
    if (!lab.ready) {
      post({ type: "quanthub:ping" });
      return;
    }
    while (lab.queue.length) {
      post(lab.queue.shift());
    }
  }

  function openInLab(path, labUrl) {
    var id = String(lab.nextId++);
    var frame = lab.frame;
    lab.queue.push({ type: "quanthub:open", id: id, path: path });
    lab.pending[id] = window.setTimeout(function () {
      // No answer: show the file the way a full load would, in the same frame.
      delete lab.pending[id];
      if (lab.frame === frame && labUrl) {
        frame.src = labUrl;
        adopt(frame);
      }
    }, OPEN_TIMEOUT_MS);
    flush();
  }

  function showResearch(state, firstLoad) {
    var hubOrigin = state.hubOrigin || "";
    var rendered = document.getElementById("research-frame");
    if (firstLoad && rendered) {
      adopt(rendered); // a full load rendered the frame, at the path already
      showShell(true);
      return;
    }
    if (lab.frame && lab.origin === hubOrigin) {
      showShell(true);
      if (state.path) {
        openInLab(state.path, state.labUrl);
      }
      return;
    }
    if (hubOrigin !== frameOrigin) {
      // This document's policy may not frame that hub (the person was placed on another
      // one since it loaded): a full load brings the policy that may.
      window.location.replace(state.url || window.location.href);
      return;
    }
    makeFrame(state.labUrl);
    showShell(true);
  }

  function warmUp(url) {
    if (warmedUp || lab.frame || !url || originOf(url) !== frameOrigin) {
      return;
    }
    warmedUp = true;
    var frame = document.createElement("iframe");
    frame.className = "research-warmup";
    frame.title = "Starting your research server";
    frame.setAttribute("aria-hidden", "true");
    frame.tabIndex = -1;
    // The spawn has been asked for once the hub answers the first page; the frame can go.
    frame.addEventListener("load", function () {
      window.setTimeout(function () {
        frame.remove();
      }, 1000);
    });
    frame.src = url;
    document.body.appendChild(frame);
  }

  function retryLater(seconds, firstLoad) {
    window.clearTimeout(retryTimer);
    retryTimer = null;
    if (!seconds || firstLoad) {
      return; // a full load refreshes itself (the page's meta refresh)
    }
    var address = window.location.pathname + window.location.search;
    retryTimer = window.setTimeout(function () {
      if (window.location.pathname + window.location.search === address) {
        window.htmx.ajax("GET", address, { target: "#page", select: "#page", swap: "outerHTML" });
      }
    }, Number(seconds) * 1000);
  }

  function sync(firstLoad) {
    var state = pageState();
    if (state.shell === "research") {
      showResearch(state, firstLoad);
    } else {
      showShell(false);
    }
    warmUp(state.prestart);
    retryLater(state.retryAfter, firstLoad);
  }

  // A rendered notebook's page (community) says how tall it is and where a heading is: the
  // frame is made to fit it, and the page scrolls to the heading. Taken only from the window
  // of one of this page's notebook frames (an opaque origin: event.origin is "null").
  var RENDER_MIN_PX = 120;
  var RENDER_MAX_PX = 400000;
  window.addEventListener("message", function (event) {
    var data = event.data || {};
    if (data.type !== "quantsite:render-height" && data.type !== "quantsite:render-scroll") {
      return;
    }
    var frames = document.querySelectorAll("iframe.notebook-frame");
    var frame = null;
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === event.source) frame = frames[i];
    }
    var value = data.type === "quantsite:render-height" ? data.height : data.top;
    if (!frame || typeof value !== "number" || !isFinite(value) || value < 0) return;
    if (data.type === "quantsite:render-height") {
      var px = Math.min(Math.max(Math.ceil(value), RENDER_MIN_PX), RENDER_MAX_PX);
      frame.style.height = px + 2 + "px"; // its border
      frame.classList.add("fitted");
    } else {
      var top = frame.getBoundingClientRect().top + window.scrollY + Math.min(value, RENDER_MAX_PX);
      window.scrollTo({ top: Math.max(top - 8, 0), behavior: "smooth" });
    }
  });

  window.addEventListener("message", function (event) {
    if (!lab.frame || event.source !== lab.frame.contentWindow || event.origin !== lab.origin) {
      return;
    }
    var data = event.data || {};
    if (data.type === "quanthub:ready") {
      lab.ready = true;
      flush();
    } else if (data.type === "quanthub:opened") {
      window.clearTimeout(lab.pending[data.id]);
      delete lab.pending[data.id];
    } else if (
      data.type === "quanthub:shared" &&
      typeof data.url === "string" &&
      /^\/community\/topics\/\d+$/.test(data.url)
    ) {
      // JupyterLab's Share shows the new post: a page of the community, nothing else.
      window.htmx.ajax("GET", data.url, {
        target: "#page",
        select: "#page",
        swap: "outerHTML",
        push: "true"
      });
    }
  });

  // A response that is not a page of the site (a file, or a page without #page) is not
  // swapped in: the browser goes there as a full load instead.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("text/html") === 0 && xhr.responseText.indexOf('id="page"') >= 0) {
      return;
    }
    event.detail.shouldSwap = false;
    if (event.detail.requestConfig && event.detail.requestConfig.verb === "get") {
      window.location.assign(xhr.responseURL || event.detail.pathInfo.requestPath);
    }
  });
  document.body.addEventListener("htmx:afterSettle", function () {
    sync(false);
  });
  document.body.addEventListener("htmx:historyRestore", function () {
    sync(false);
  });

  sync(true);
})();
