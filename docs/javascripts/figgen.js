// The site's one always-loaded script (a few KB): it loads the heavy libraries only where a page
// needs them, from the site's own copy (assets/vendor/, vendored by figgen/assets.py):
//   - Vega, Vega-Lite and vega-embed on pages that hold a chart (<div class="figgen-vega">),
//   - KaTeX on pages with math (arithmatex's elements).
// Each library is loaded once (the promise is memoised) and stays loaded across pages. Everything
// runs on every emission of Material's document$, so a page reached by instant navigation (no
// reload) draws its charts and math too.
(function () {
  const here = document.currentScript.src;
  const vendor = (path) => new URL(`../assets/vendor/${path}`, here).href;
  const VEGA = ["vega/vega.min.js", "vega-lite/vega-lite.min.js", "vega-embed/vega-embed.min.js"];
  const KATEX = ["katex/katex.min.css", "katex/katex.min.js", "katex/contrib/auto-render.min.js"];

  const loading = new Map(); // url -> Promise

  // A script or stylesheet, inserted once. Scripts keep their order (async = false), so vega-lite
  // runs after vega and auto-render after katex. They go into <body>: instant navigation removes
  // the <head> elements that the next page's <head> lacks (a stylesheet there would vanish).
  function load(url) {
    if (!loading.has(url)) {
      loading.set(url, new Promise((resolve, reject) => {
        const css = url.endsWith(".css");
        const el = document.createElement(css ? "link" : "script");
        if (css) {
          el.rel = "stylesheet";
          el.href = url;
        } else {
          el.async = false;
          el.src = url;
        }
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

  // --- charts: each <div class="figgen-vega" data-spec="…vl.json"> holds static SVG fallbacks;
  // once vega-embed has drawn the chart, the chart replaces them. Charts follow the page's palette
  // and are redrawn when the reader toggles it.
  let views = [];
  let generation = 0; // bumped per page (and per palette change): late results of older runs are dropped

  const dark = () => document.body.getAttribute("data-md-color-scheme") === "slate";

  async function embedCharts() {
    const run = ++generation;
    views.forEach((view) => view.finalize());
    views = [];
    const containers = document.querySelectorAll(".figgen-vega[data-spec]");
    if (containers.length === 0) return;
    await loadAll(VEGA);
    for (const el of containers) {
      try {
        const spec = await (await fetch(el.dataset.spec)).json();
        if (run !== generation) return;
        const target = document.createElement("div");
        target.className = "figgen-vega-chart";
        const result = await vegaEmbed(target, spec, {
          actions: false,
          renderer: "svg",
          theme: dark() ? "dark" : undefined,
          // The palette's config (named colour ranges, fonts, ink) travels in the spec (figgen's save.py).
          config: Object.assign({ background: null },
                                ((spec.usermeta || {}).figgen || {}).themes?.[dark() ? "dark" : "light"]),
        });
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
        console.warn("figgen: could not embed", el.dataset.spec, err);
      }
    }
  }

  // --- math: arithmatex's generic output (\( … \) and \[ … \]), rendered only inside arithmatex's
  // elements: text quoted from the model (token strings) may contain "\(" or "$$" and must stay text.
  async function renderMath() {
    const math = document.querySelectorAll(".arithmatex");
    if (math.length === 0) return;
    await loadAll(KATEX);
    math.forEach((el) => {
      renderMathInElement(el, {
        delimiters: [
          { left: "\\[", right: "\\]", display: true },
          { left: "\\(", right: "\\)", display: false },
        ],
        throwOnError: false,
      });
    });
  }

  const warn = (err) => console.warn("figgen:", err.message || err);

  new MutationObserver(() => embedCharts().catch(warn)).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-md-color-scheme"],
  });
  document$.subscribe(() => {
    embedCharts().catch(warn);
    renderMath().catch(warn);
  });
})();
