// The contact page: click-to-call from any number on it.

import { postJSON } from "./api.js";
import { errorText, t } from "./locale.js";

const message = document.getElementById("call-message");

function say(text, isError) {
  message.textContent = text;
  message.hidden = !text;
  message.classList.toggle("error", Boolean(isError));
}

for (const button of document.querySelectorAll("[data-call-number]")) {
  button.addEventListener("click", async () => {
    const number = button.dataset.callNumber;
    const shown = button.closest(".phone") ? button.closest(".phone").querySelector(".nowrap").textContent : number;
    const contactId = Number(button.dataset.contactId) || null;
    button.disabled = true;
    say(t("text.calling_you", { number: shown }));
    try {
      await postJSON("/api/panel/call", { number, contact_id: contactId });
      say(t("text.calling", { number: shown }));
    } catch (failure) {
      say(errorText(failure), true);
    } finally {
      button.disabled = false;
    }
  });
}
