// JSON requests to Trubka. Errors become ApiError with the server's code and message.

export class ApiError extends Error {
  constructor(code, message, status, body) {
    super(message || code);
    this.code = code;
    this.status = status;
    this.body = body || {};
  }
}

export async function request(method, url, body) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new ApiError("network", String(error), 0);
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (error) {
      data = null;
    }
  }
  if (!response.ok) {
    const code = (data && data.code) || "error";
    throw new ApiError(code, (data && data.message) || response.statusText, response.status, data);
  }
  return data;
}

export const getJSON = (url) => request("GET", url);
export const postJSON = (url, body) => request("POST", url, body);
