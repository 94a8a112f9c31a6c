// Checks on rendered text that fail when a part they name is missing: `indexOf` answers -1 for
// a missing part, which compares as "before" everything.
import assert from "node:assert/strict";

/** Where each of `parts` first occurs in `text`: every one present, each after the one before. */
export function assertInOrder(text: string, parts: string[], message = ""): number[] {
    const at = parts.map((part) => {
        const i = text.indexOf(part);
        assert.ok(i >= 0, `${message ? `${message}: ` : ""}missing ${JSON.stringify(part)}`);
        return i;
    });
    for (let i = 1; i < parts.length; i++)
        assert.ok(
            at[i - 1] < at[i],
            `${message ? `${message}: ` : ""}${JSON.stringify(parts[i - 1])} comes before ${JSON.stringify(parts[i])}`,
        );
    return at;
}

/** The text from the first `start` up to the first `end` after it; both must be there. */
export function between(text: string, start: string, end: string): string {
    const from = text.indexOf(start);
    assert.ok(from >= 0, `missing ${JSON.stringify(start)}`);
    const to = text.indexOf(end, from + start.length);
    assert.ok(to >= 0, `missing ${JSON.stringify(end)} after ${JSON.stringify(start)}`);
    return text.slice(from, to);
}
