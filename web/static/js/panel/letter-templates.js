// The card's letter form: choosing a letter template fills the subject and the text,
// rendered for this contact and the chosen mailbox (POST /api/mail-templates/{id}/render).
// Without JavaScript the form still works: left empty, they are the template's.

import { postJSON } from "./api.js";
import { errorText } from "./locale.js";

const picker = /** @type {HTMLSelectElement | null} */ (document.getElementById("letter-template"));
const subject = /** @type {HTMLInputElement | null} */ (document.getElementById("letter-subject"));
const body = /** @type {HTMLTextAreaElement | null} */ (document.getElementById("letter-body"));
const mailbox = /** @type {HTMLSelectElement | null} */ (document.getElementById("letter-mailbox"));
const problem = document.getElementById("letter-template-error");

async function fill() {
  if (!picker || !subject || !body || !picker.value) return;
  picker.disabled = true;
  if (problem) problem.hidden = true;
  try {
    const letter = await postJSON(`/api/mail-templates/${Number(picker.value)}/render`, {
      contact_id: Number(picker.dataset.contactId),
      mailbox_id: mailbox && mailbox.value ? Number(mailbox.value) : null,
    });
    subject.value = letter.subject;
    body.value = letter.body;
  } catch (failure) {
    if (problem) {
      problem.textContent = errorText(failure);
      problem.hidden = false;
    }
  } finally {
    picker.disabled = false;
  }
}

if (picker) picker.addEventListener("change", fill);
