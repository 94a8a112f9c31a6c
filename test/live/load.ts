// A bounded request loop running while an action (a renewal, say) happens: how many
// requests were served, which failed, and which certificate serials were seen.
import { DEPLOY_HOOK } from "../../configs/certbot";
import { run, RunResult } from "./proc";
import { basic, Endpoint, httpsRequest, peerCertificate } from "./client";

/**
 * A forced renewal inside the certbot container, with the stack's deploy hook. With `ep`, it
 * resolves once nginx serves the new certificate (nginx picks it up within seconds; bounded
 * at 20 s, after which the caller's check of the serial fails).
 */
export async function forceRenewal(prefix: string, ep?: Endpoint): Promise<RunResult> {
    const before = ep ? (await peerCertificate(ep)).serialNumber : undefined;
    const r = await run("docker", [
        "exec",
        `${prefix}-certbot`,
        "certbot",
        "renew",
        "--force-renewal",
        "--no-random-sleep-on-renew",
        "--non-interactive",
        "--deploy-hook",
        DEPLOY_HOOK,
    ]);
    if (ep && r.code === 0) {
        for (let i = 0; i < 100 && (await peerCertificate(ep)).serialNumber === before; i++)
            await new Promise((res) => setTimeout(res, 200));
    }
    return r;
}

export interface LoadResult {
    served: number;
    failed: string[];
    serials: string[];
}

/**
 * Runs `action` while sending requests to /v2/ on fresh TLS connections. Bounded: at most
 * `maxRequests` and `maxMs`, and it stops `tailMs` after the action finished.
 */
export async function requestsDuring<T>(
    ep: Endpoint,
    user: { name: string; password: string },
    action: () => Promise<T>,
    bounds = { maxRequests: 5000, maxMs: 120_000, tailMs: 2000 },
): Promise<{ load: LoadResult; result: T }> {
    const auth = basic(user.name, user.password);
    const load: LoadResult = { served: 0, failed: [], serials: [] };
    const deadline = Date.now() + bounds.maxMs;
    let stopAt = Infinity;
    let done = false;
    const loop = (async () => {
        for (let i = 0; i < bounds.maxRequests && Date.now() < Math.min(deadline, stopAt); i++) {
            if (done && stopAt === Infinity) stopAt = Date.now() + bounds.tailMs;
            try {
                const r = await httpsRequest(ep, "/v2/", { auth });
                if (r.status === 200) load.served++;
                else load.failed.push(`status ${r.status}`);
                if (i % 10 === 0) {
                    const serial = (await peerCertificate(ep)).serialNumber;
                    if (!load.serials.includes(serial)) load.serials.push(serial);
                }
            } catch (e) {
                load.failed.push((e as Error).message);
            }
        }
    })();
    try {
        const result = await action();
        return { load, result };
    } finally {
        done = true;
        await loop;
    }
}
