// Client source addresses the tests own: 198.18.0.0/15 (RFC 2544, reserved for benchmarks),
// added as /32s to the bed's own bridge (regbed0). Traffic from them to the bed address reaches
// nginx with its source intact (Docker masquerades only sources inside its networks), so
// nginx sees several distinct clients, as it would on a real network. Nothing is sent to
// these addresses but the replies to the tests' own connections.
import { bedHostAddress, BED_BRIDGE } from "./hostAddress";
import { run } from "./proc";

const PREFIX = "198.18.0.";

/** The `n`th source address (1-254), whether or not it was added yet. */
export function sourceAddress(n: number): string {
    return `${PREFIX}${n}`;
}

/** `count` source addresses, the first at `first` (1-254), added to the bed's bridge when missing. */
export async function sourceAddresses(first: number, count: number): Promise<string[]> {
    await bedHostAddress(); // the bridge exists
    const addresses = Array.from({ length: count }, (_, i) => sourceAddress(first + i));
    const shown = (await run("ip", ["-4", "-o", "addr", "show", "dev", BED_BRIDGE])).stdout;
    for (const address of addresses) {
        if (shown.includes(` ${address}/32 `)) continue;
        const r = await run("ip", ["addr", "add", `${address}/32`, "dev", BED_BRIDGE]);
        // Another test file may have added it meanwhile.
        if (r.code !== 0 && !/File exists/.test(r.stderr)) throw new Error(`cannot add ${address} to ${BED_BRIDGE}: ${r.stderr}`);
    }
    return addresses;
}
