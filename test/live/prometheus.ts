// A real Prometheus (Debian's `prometheus` package, /usr/bin/prometheus) for the live tests: a
// process of the test's own, on loopback, that scrapes one target every second as the job the
// alert rules expect and evaluates the rules every second; queried over its HTTP API. Stopped
// by its PID, never by name.
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The samples of a Prometheus text exposition (a scrape's body): `name{labels}` → value. */
export function samples(text: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const line of text.split("\n")) {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
        if (m) out.set(m[1], Number(m[2]));
    }
    return out;
}

export interface PrometheusOptions {
    /** A directory of the test's own: the config, the password file, the TSDB and the log go here. */
    dir: string;
    /** The loopback port its API listens on. */
    port: number;
    /** `host:port` of the metrics endpoint. */
    target: string;
    /** The endpoint's password (basic auth as `metrics`), written to a file only Prometheus reads. */
    password?: string;
    /** Rule files (absolute paths). */
    ruleFiles: string[];
}

/** One sample of an instant query: its labels and value. */
export interface Sample {
    metric: Record<string, string>;
    value: number;
}

/** An alert as /api/v1/alerts lists it. */
export interface Alert {
    labels: Record<string, string>;
    state: "pending" | "firing";
}

export class Prometheus {
    private child: ChildProcess | undefined;
    private readonly url: string;
    private readonly log: string;

    constructor(private readonly opts: PrometheusOptions) {
        this.url = `http://127.0.0.1:${opts.port}`;
        this.log = path.join(opts.dir, "prometheus.log");
    }

    /** Starts it and waits (at most 30 s) until it is ready. */
    async start(): Promise<void> {
        const { dir, target, password, ruleFiles } = this.opts;
        const passwordFile = path.join(dir, "metrics.password");
        if (password !== undefined) fs.writeFileSync(passwordFile, password, { mode: 0o600 });
        const config = [
            "global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }",
            `rule_files: ${JSON.stringify(ruleFiles)}`,
            "scrape_configs:",
            "  - job_name: private-registry",
            ...(password === undefined ? [] : [`    basic_auth: { username: metrics, password_file: ${JSON.stringify(passwordFile)} }`]),
            `    static_configs: [{ targets: [${JSON.stringify(target)}] }]`,
            "",
        ].join("\n");
        const configFile = path.join(dir, "prometheus.yml");
        fs.writeFileSync(configFile, config);
        const out = fs.openSync(this.log, "a");
        this.child = spawn(
            "prometheus",
            [
                `--config.file=${configFile}`,
                `--storage.tsdb.path=${path.join(dir, "tsdb")}`,
                `--web.listen-address=127.0.0.1:${this.opts.port}`,
                "--log.level=warn",
            ],
            { stdio: ["ignore", out, out] },
        );
        fs.closeSync(out);
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
            if (this.child.exitCode !== null) break;
            try {
                if ((await fetch(`${this.url}/-/ready`)).status === 200) return;
            } catch {
                // Not listening yet.
            }
            await sleep(250);
        }
        throw new Error(`Prometheus did not become ready within 30 s:\n${this.logText()}`);
    }

    /** Its log so far, for a failure's message. */
    logText(): string {
        try {
            return fs.readFileSync(this.log, "utf8");
        } catch {
            return "";
        }
    }

    private async api<T>(pathAndQuery: string): Promise<T> {
        const reply = await fetch(`${this.url}${pathAndQuery}`);
        const body = (await reply.json()) as { status: string; data: T; error?: string };
        if (body.status !== "success") throw new Error(`Prometheus ${pathAndQuery}: ${body.error}`);
        return body.data;
    }

    /** An instant query's samples. */
    async query(expr: string): Promise<Sample[]> {
        const data = await this.api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
            `/api/v1/query?query=${encodeURIComponent(expr)}`,
        );
        return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    }

    /** The alerts pending or firing now. */
    async alerts(): Promise<Alert[]> {
        return (await this.api<{ alerts: Alert[] }>("/api/v1/alerts")).alerts;
    }

    /** The names of the alerting rules it loaded. */
    async alertRules(): Promise<string[]> {
        const data = await this.api<{ groups: { rules: { name: string; type: string }[] }[] }>("/api/v1/rules?type=alert");
        return data.groups.flatMap((g) => g.rules.map((r) => r.name));
    }

    /** Polls `probe` every second until it returns a value other than undefined, at most `timeoutMs`. */
    async until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
        const deadline = Date.now() + timeoutMs;
        let last: unknown;
        while (Date.now() < deadline) {
            try {
                const value = await probe();
                if (value !== undefined) return value;
            } catch (e) {
                last = e;
            }
            await sleep(1000);
        }
        throw new Error(`Prometheus: ${what}, not within ${timeoutMs / 1000} s${last ? ` (last error: ${last})` : ""}\n${this.logText()}`);
    }

    /** Stops the process it started (SIGTERM, then SIGKILL after 10 s), by its PID. */
    async stop(): Promise<void> {
        const child = this.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        process.kill(child.pid!, "SIGTERM");
        const timer = setTimeout(() => {
            if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGKILL");
        }, 10_000);
        await exited;
        clearTimeout(timer);
    }
}
