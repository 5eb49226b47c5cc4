// Render arithmatex's generic output (\( … \) and \[ … \]) with the site's own KaTeX.
// Inside document$ so it runs again after every instant-navigation page swap.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
    ],
    throwOnError: false,
  });
});
