// The registry's notifications section (distribution's `notifications.endpoints`): where it
// POSTs its events. Pure: endpoints and their header values in, YAML text out. The header
// values are secrets: the section goes into config.yml, itself a secret upload (no process
// argument, environment variable or `docker inspect` field holds it).
import { NotificationEndpoint } from "../settings/types";

/** The header values of each endpoint, in the order of its `headers`, once the secrets resolve. */
export type NotificationHeaderValues = string[][];

/** A YAML scalar: JSON's double-quoted string is one (every value reaching it is one line of printable ASCII). */
const quoted = (text: string) => JSON.stringify(text);

/**
 * The `notifications:` section of config.yml ("" without endpoints). `values[i][j]` is the
 * value of endpoint i's j-th header. Handle the result as a secret.
 */
export function renderNotifications(endpoints: NotificationEndpoint[], values: NotificationHeaderValues): string {
    if (endpoints.length === 0) return "";
    const lines = ["notifications:", "  endpoints:"];
    endpoints.forEach((e, i) => {
        lines.push(`    - name: ${quoted(e.name)}`, `      url: ${quoted(e.url)}`);
        const names = Object.keys(e.headers);
        if (names.length > 0) {
            lines.push("      headers:");
            names.forEach((name, j) => {
                const value = values[i]?.[j];
                if (value === undefined || /[\r\n]/.test(value)) throw new Error(`notifications[${i}].headers.${name}: no value`);
                lines.push(`        ${quoted(name)}: [${quoted(value)}]`);
            });
        }
        lines.push(`      timeout: ${e.timeout}`, `      threshold: ${e.threshold}`, `      backoff: ${e.backoff}`);
        if (e.ignoredMediaTypes.length > 0) {
            lines.push("      ignore:", `        mediatypes: [${e.ignoredMediaTypes.map(quoted).join(", ")}]`);
        }
    });
    return `${lines.join("\n")}\n`;
}

/** Whether the registry needs a network: its webhooks are reached over one. */
export function sendsNotifications(s: { notifications: NotificationEndpoint[] }): boolean {
    return s.notifications.length > 0;
}
