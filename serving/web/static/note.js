// The consult note page: the Print button (no inline script under the pages' CSP).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
