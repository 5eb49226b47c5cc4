// Interactive figures: each <div class="figgen-vega" data-spec="…vl.json"> holds static SVG
// fallbacks; once vega-embed has drawn the chart, the chart replaces them. Charts follow the
// page's palette and are redrawn when the reader toggles it. Subscribed to Material's document$
// so embeds survive navigation.instant.
(function () {
  let views = [];

  function dark() {
    return document.body.getAttribute("data-md-color-scheme") === "slate";
  }

  function finalize() {
    views.forEach((v) => v.finalize());
    views = [];
  }

  async function embedAll() {
    finalize();
    const containers = document.querySelectorAll(".figgen-vega[data-spec]");
    for (const el of containers) {
      try {
        const spec = await (await fetch(el.dataset.spec)).json();
        const target = document.createElement("div");
        target.className = "figgen-vega-chart";
        const result = await vegaEmbed(target, spec, {
          actions: false,
          renderer: "svg",
          theme: dark() ? "dark" : undefined,
          config: { background: null },
        });
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

  new MutationObserver(() => embedAll()).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-md-color-scheme"],
  });
  document$.subscribe(() => embedAll());
})();
