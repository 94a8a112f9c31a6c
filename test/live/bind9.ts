// bind9 from Debian (the bed's image) as the authoritative server of a test zone that takes
// RFC 2136 updates signed with a TSIG key: what certbot-dns-rfc2136 changes and what Pebble
// checks DNS-01 records against. It is published on the bed's host address (UDP and TCP), so
// containers on any network reach it, and carries the bed's label, so cleanup removes it.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BED_LABEL } from "./bed";
import { bedHostAddress } from "./hostAddress";
import { docker, run } from "./proc";

/** Where the bind9 image reads its configuration (test/bed/images/bind9/Dockerfile). */
const CONF_DIR = "/etc/bind/registry-bed";

export class Bind9 {
    /** The TSIG key that may update the zone (HMAC-SHA256, as tsig-keygen makes). */
    readonly key = { name: "registry-bed-update", secret: randomBytes(32).toString("base64"), algorithm: "HMAC-SHA256" };
    readonly container: string;
    private dir?: string;
    address = "";

    constructor(
        readonly label: string,
        readonly image: string,
        readonly zone: string,
        readonly port: number,
    ) {
        this.container = `bed-${label}-bind9`;
    }

    /** ip:port, for Pebble's -dnsserver. */
    get server(): string {
        return `${this.address}:${this.port}`;
    }

    async start(): Promise<void> {
        this.address = await bedHostAddress();
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-bind9-"));
        fs.writeFileSync(
            path.join(this.dir, "named.conf"),
            [
                "options {",
                `    directory "${CONF_DIR}";`,
                "    listen-on port 53 { any; };",
                "    listen-on-v6 { none; };",
                "    recursion no;",
                "    allow-query { any; };",
                "    dnssec-validation no;",
                "    pid-file none;",
                "};",
                `key "${this.key.name}" { algorithm ${this.key.algorithm.toLowerCase()}; secret "${this.key.secret}"; };`,
                `zone "${this.zone}" { type primary; file "zone.db"; allow-update { key "${this.key.name}"; }; };`,
                "",
            ].join("\n"),
        );
        fs.writeFileSync(
            path.join(this.dir, "zone.db"),
            [
                "$TTL 5",
                `@ IN SOA ns.${this.zone}. hostmaster.${this.zone}. ( 1 60 60 3600 5 )`,
                `@ IN NS ns.${this.zone}.`,
                `ns IN A ${this.address}`,
                "",
            ].join("\n"),
        );
        await docker([
            "run",
            "--detach",
            "--name",
            this.container,
            "--label",
            `${BED_LABEL}=${this.label}`,
            "--publish",
            `${this.address}:${this.port}:53/udp`,
            "--publish",
            `${this.address}:${this.port}:53/tcp`,
            "--volume",
            `${this.dir}:${CONF_DIR}`,
            this.image,
        ]);
        // Serving once it answers for its zone (bounded: 30 tries, 0.5 s apart).
        for (let i = 0; i < 30; i++) {
            if ((await this.dig("SOA", this.zone)).length > 0) return;
            await new Promise((r) => setTimeout(r, 500));
        }
        throw new Error(`bind9 did not serve ${this.zone}:\n${await this.log()}`);
    }

    /** The records of `type` at `name`, as bind9 answers them now (dig +short). */
    async dig(type: string, name: string): Promise<string[]> {
        const r = await run("docker", ["exec", this.container, "dig", "+short", "+tcp", "@127.0.0.1", name, type]);
        return r.code === 0 ? r.stdout.split("\n").filter(Boolean) : [];
    }

    /** What named logged (its updates among it). */
    async log(): Promise<string> {
        const r = await run("docker", ["logs", this.container]);
        return `${r.stdout}${r.stderr}`;
    }

    /** Its files (the container itself goes with the bed's label). */
    cleanup(): void {
        if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
