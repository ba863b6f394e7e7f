// The language menu in every page's header submits its form when changed (an inline
// onchange= handler would need the Content-Security-Policy's 'unsafe-inline').
const select = document.getElementById("lang-select");
if (select && select.form) {
  select.addEventListener("change", () => select.form.submit());
}
