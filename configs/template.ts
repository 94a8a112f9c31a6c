// Loads a mustache template from configs/templates and renders it without HTML escaping
// (the outputs are config files, not HTML). Every value reaching a template is validated
// by the parsers of settings/ or produced by this program.
import * as fs from "node:fs";
import * as path from "node:path";
import Mustache from "mustache";

const TEMPLATES = path.join(__dirname, "templates");
const cache = new Map<string, string>();

export function renderTemplate(name: string, view: object): string {
    let template = cache.get(name);
    if (template === undefined) {
        template = fs.readFileSync(path.join(TEMPLATES, name), "utf8");
        cache.set(name, template);
    }
    return Mustache.render(template, view, {}, { escape: (value: string) => value });
}
