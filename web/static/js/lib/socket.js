// @ts-check
// The one reconnecting WebSocket of the pages: /ws, authenticated by the session cookie.
//
//   connectSocket({ onMessage(message) {…}, onStatus(state) {…}, maxDelay: 5000 });
//
// Every JSON object the server sends goes to `onMessage` (anything else is ignored). The
// state goes to `onStatus`: "connecting" before each attempt, "connected" when the socket
// opens (the server then sends its full picture again), "disconnected" when it closes; a
// closed socket is made again after 0.5 s, doubling up to `maxDelay`. A ping every 25 s
// keeps proxies from closing an idle socket. The server closing with 4401 (signed out)
// sends the browser to the sign-in page, which comes back here; 4429 (too many sockets:
// this, the oldest tab, was closed) is "closed" with the server's reason and is not made
// again (reconnecting would close the next oldest tab in turn; reloading connects it).
// A node shutting down sends {"type": "reconnect"} and closes the socket (1012): the
// socket is made again after 0.5–1.5 s (spread, so a node's browsers do not all arrive
// at once), through the load balancer to another node, then with the usual backoff.

/** @typedef {"connecting" | "connected" | "disconnected" | "closed"} SocketState */

/**
 * @typedef {object} SocketOptions
 * @property {(message: {type?: string, [field: string]: any}) => void} onMessage
 * @property {(state: SocketState, reason?: string) => void} [onStatus]
 * @property {string} [path] the socket's path on this host (default "/ws")
 * @property {number} [maxDelay] the longest wait between two attempts, in ms (default 15000)
 */

export const FIRST_DELAY = 500;
export const PING_INTERVAL = 25000;
/** The close code of a socket whose session is gone. */
export const SIGNED_OUT = 4401;
/** The close code of the oldest socket when a user opened too many. */
export const TOO_MANY = 4429;
/** How far apart the sockets of a draining node reconnect, in ms. */
export const RECONNECT_SPREAD = 1000;

/**
 * Open the socket and keep it open.
 * @param {SocketOptions} options
 * @returns {{ send(message: object): boolean, close(): void }} `send` puts a message on the
 *   open socket (false when there is none now); `close` stops reconnecting and closes it
 */
export function connectSocket({ onMessage, onStatus = () => {}, path = "/ws", maxDelay = 15000 }) {
  let delay = FIRST_DELAY;
  let stopped = false;
  /** @type {WebSocket | null} */
  let socket = null;
  /** @type {number | undefined} */
  let pinger;

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const current = new WebSocket(`${scheme}//${window.location.host}${path}`);
    socket = current;
    onStatus("connecting");
    current.addEventListener("open", () => {
      delay = FIRST_DELAY;
      window.clearInterval(pinger);
      pinger = window.setInterval(() => {
        if (current.readyState === WebSocket.OPEN) current.send('{"type":"ping"}');
      }, PING_INTERVAL);
      onStatus("connected");
    });
    current.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!message || typeof message !== "object" || Array.isArray(message)) return;
      if (message.type === "reconnect") {
        // The node is going away: connect again soon, to whichever node is still up.
        delay = FIRST_DELAY + Math.floor(Math.random() * RECONNECT_SPREAD);
        current.close();
        return;
      }
      onMessage(message);
    });
    current.addEventListener("close", (event) => {
      window.clearInterval(pinger);
      if (stopped) return;
      if (event.code === SIGNED_OUT) {
        window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
        return;
      }
      if (event.code === TOO_MANY) {
        onStatus("closed", event.reason);
        return;
      }
      onStatus("disconnected");
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, maxDelay);
    });
  }

  connect();
  return {
    send(message) {
      if (!socket || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(message));
      return true;
    },
    close() {
      stopped = true;
      socket?.close();
    },
  };
}
