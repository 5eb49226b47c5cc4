// The site's one always-loaded script (a few KB). Math needs no script: it is typeset at build
// time (figgen/katex.py) and each page with math links KaTeX's stylesheet itself. Charts need Vega
// and vega-embed (~570 KB), from the site's own copy (assets/vendor/, vendored by figgen/assets.py),
// loaded only on pages that hold a chart (<div class="figgen-vega">) and only once the reader
// engages: until then every chart shows its static SVG fallback (the same picture, drawn by the same
// Vega at build time), so a page costs its first view without the library. The first click, touch,
// wheel, scroll or key event anywhere on the site, or the pointer over a chart, loads Vega and draws
// the charts; from then on the charts of every page are drawn as it arrives. Everything runs on every emission of Material's
// document$, so a page reached by instant navigation (no reload) draws its charts too.
(function () {
  const here = document.currentScript.src;
  const vendor = (path) => new URL(`../assets/vendor/${path}`, here).href;
  // Charts are compiled to Vega at build time (one spec per palette): no Vega-Lite in the browser.
  const VEGA = ["vega/vega.min.js", "vega-embed/vega-embed.min.js"];

  const loading = new Map(); // url -> Promise

  // A script inserted once. Scripts keep their order (async = false), so vega-embed runs after vega.
  // They go into <body>: instant navigation removes the <head> elements that the next page's <head> lacks.
  function load(url) {
    if (!loading.has(url)) {
      loading.set(url, new Promise((resolve, reject) => {
        const el = document.createElement("script");
        el.async = false;
        el.src = url;
        el.onload = () => resolve();
        el.onerror = () => {
          loading.delete(url); // a later page may try again
          reject(new Error(`could not load ${url}`));
        };
        document.body.appendChild(el);
      }));
    }
    return loading.get(url);
  }
  const loadAll = (paths) => Promise.all(paths.map((path) => load(vendor(path))));

  // --- charts: each <div class="figgen-vega" data-spec-light="…vg.light.json" data-spec-dark="…">
  // holds static SVG fallbacks; once the chart is drawn it replaces them. Charts follow the page's
  // palette (the spec compiled for it) and are redrawn when the reader toggles it.
  let views = [];
  let generation = 0; // bumped per page (and per palette change): late results of older runs are dropped

  const palette = () => (document.body.getAttribute("data-md-color-scheme") === "slate" ? "dark" : "light");

  async function embedCharts() {
    const run = ++generation;
    views.forEach((view) => view.finalize());
    views = [];
    const containers = document.querySelectorAll(".figgen-vega[data-spec-light]");
    if (containers.length === 0) return;
    await loadAll(VEGA);
    const theme = palette();
    for (const el of containers) {
      const url = theme === "dark" ? el.dataset.specDark : el.dataset.specLight;
      try {
        const spec = await (await fetch(url)).json();
        if (run !== generation) return;
        const target = document.createElement("div");
        target.className = "figgen-vega-chart";
        const result = await vegaEmbed(target, spec, { mode: "vega", actions: false, renderer: "svg" });
        if (run !== generation) {
          result.view.finalize();
          return;
        }
        el.querySelectorAll(".figgen-vega-chart").forEach((old) => old.remove());
        el.querySelectorAll("img").forEach((img) => (img.style.display = "none"));
        el.appendChild(target);
        views.push(result.view);
      } catch (err) {
        // Keep the static fallback; say why in the console only.
        console.warn("figgen: could not embed", url, err);
      }
    }
  }

  const warn = (err) => console.warn("figgen:", err.message || err);

  // The reader engages (once per visit to the site): a click, touch, wheel, key or scroll of the page
  // anywhere, or the pointer over a chart. Not any pointer move: a cursor resting over the window sends moves
  // as the page lays out, which would load Vega on every desktop first view.
  const ENGAGE = ["pointerdown", "touchstart", "wheel", "scroll", "keydown", "click"];
  let engaged = false;
  function engage(event) {
    // Scrolls of inner boxes don't count: Material scrolls the navigation to the current page itself.
    if (engaged || (event && event.type === "scroll" && event.target !== document)) return;
    engaged = true;
    ENGAGE.forEach((type) => window.removeEventListener(type, engage, true));
    document.removeEventListener("pointerover", overChart, true);
    embedCharts().catch(warn);
  }
  function overChart(event) {
    if (event.target instanceof Element && event.target.closest(".figgen-vega")) engage(event);
  }
  ENGAGE.forEach((type) => window.addEventListener(type, engage, { capture: true, passive: true }));
  document.addEventListener("pointerover", overChart, { capture: true, passive: true });

  new MutationObserver(() => engaged && embedCharts().catch(warn)).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-md-color-scheme"],
  });
  document$.subscribe(() => engaged && embedCharts().catch(warn));
})();
