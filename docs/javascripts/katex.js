// Render arithmatex's generic output (\( … \) and \[ … \]) with the site's own KaTeX.
// Only inside arithmatex's elements: text quoted from the model (token strings) may contain
// "\(" or "$$" and must stay text. Inside document$ so it runs again after every page swap.
document$.subscribe(({ body }) => {
  body.querySelectorAll(".arithmatex").forEach((el) => {
    renderMathInElement(el, {
      delimiters: [
        { left: "\\[", right: "\\]", display: true },
        { left: "\\(", right: "\\)", display: false },
      ],
      throwOnError: false,
    });
  });
});
