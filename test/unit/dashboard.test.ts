// The Grafana dashboard (monitoring/dashboard.json), checked for validity without Grafana: its
// shape (an importable dashboard with a Prometheus data source input and the `instance`
// variable, unique panel ids, panels inside the 24-column grid that do not overlap), every
// expression valid PromQL (Prometheus' own promtool parses them, as recording rules), and
// every metric it reads one the endpoint serves (README, Monitoring) or distribution's own.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, test } from "node:test";
import { tempDir } from "../harness/tempDir";

const ROOT = path.resolve(__dirname, "..", "..");
type Target = { expr: string; refId: string };
type Panel = { id: number; title: string; type: string; gridPos: { x: number; y: number; w: number; h: number }; targets: Target[] };
type Dashboard = {
    uid: string;
    title: string;
    schemaVersion: number;
    __inputs: { name: string; pluginId: string }[];
    templating: { list: { name: string; query: { query: string } }[] };
    panels: Panel[];
};
const dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, "monitoring", "dashboard.json"), "utf8")) as Dashboard;
const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p, expr: t.expr })));

/** Every metric name the README's Monitoring table lists (`registry_…` names in its first column). */
function servedMetrics(): Set<string> {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const names = new Set<string>();
    for (const row of readme.split("\n").filter((l) => l.startsWith("| `registry_"))) {
        const first = row.split(" | ")[0];
        for (const [, name] of first.matchAll(/`(registry_[a-z0-9_]+)(?:\{[^}]*\})?`/g)) names.add(name);
    }
    return names;
}

describe("the Grafana dashboard", () => {
    test("an importable dashboard: uid, title, schemaVersion, a Prometheus data source input, the instance variable", () => {
        assert.equal(dashboard.uid, "private-registry");
        assert.ok(dashboard.title);
        assert.ok(dashboard.schemaVersion >= 36, `schemaVersion ${dashboard.schemaVersion}`);
        assert.deepEqual(
            dashboard.__inputs.map((i) => [i.name, i.pluginId]),
            [["DS_PROMETHEUS", "prometheus"]],
        );
        const instance = dashboard.templating.list.find((v) => v.name === "instance");
        assert.match(
            instance?.query.query ?? "",
            /^label_values\(registry_nginx_http_requests_total\{job="private-registry"\}, instance\)$/,
        );
    });

    test("unique panel ids; every panel inside the 24 columns, none overlapping another", () => {
        const ids = dashboard.panels.map((p) => p.id);
        assert.equal(new Set(ids).size, ids.length, `ids: ${ids.join(", ")}`);
        const cells = new Map<string, string>();
        for (const p of dashboard.panels) {
            const g = p.gridPos;
            assert.ok(g && g.x >= 0 && g.w > 0 && g.h > 0 && g.x + g.w <= 24, `${p.title}: gridPos ${JSON.stringify(g)}`);
            for (let x = g.x; x < g.x + g.w; x++)
                for (let y = g.y; y < g.y + g.h; y++) {
                    const taken = cells.get(`${x},${y}`);
                    assert.equal(taken, undefined, `${p.title} overlaps ${taken} at ${x},${y}`);
                    cells.set(`${x},${y}`, p.title);
                }
            assert.ok(p.targets.length > 0, `${p.title}: no query`);
        }
    });

    test("every expression is valid PromQL (promtool), selects job private-registry and the chosen instances", () => {
        const dir = tempDir("registry-dashboard-");
        const rules = exprs.map(({ panel, expr }, i) => {
            assert.match(expr, /job="private-registry", instance=~"\$instance"/, `${panel.title}: ${expr}`);
            const promql = expr.replaceAll("$instance", ".*").replaceAll("$__rate_interval", "5m");
            return `      - record: dashboard:panel_${panel.id}_${i}\n        expr: ${JSON.stringify(promql)}\n`;
        });
        const file = path.join(dir, "dashboard-rules.yml");
        fs.writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join("")}`);
        const r = spawnSync("promtool", ["check", "rules", file], { encoding: "utf8" });
        if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT")
            assert.fail("promtool is not installed: `apt-get install prometheus` (Debian) puts it on PATH; test/run.sh installs it");
        assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
        assert.match(r.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
    });

    test("every metric it reads is one the endpoint serves (README, Monitoring) or distribution's own (registry_http_*)", () => {
        const served = servedMetrics();
        assert.ok(served.has("registry_storage_s3_blobs_bytes") && served.size > 30, [...served].join(", "));
        for (const { panel, expr } of exprs)
            for (const [name] of expr.matchAll(/\bregistry_[a-z0-9_]+/g))
                assert.ok(served.has(name) || name.startsWith("registry_http_"), `${panel.title}: ${name} is not served`);
    });
});
