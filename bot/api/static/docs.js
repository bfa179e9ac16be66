// The shop API's reference page: fetches the OpenAPI document and lays out every operation —
// method, path, summary, the scope it needs, parameters, request body and responses, schemas as
// nested lists — then the webhook a shop receives and the shared schemas. Plain JS, no library;
// every text from the document goes in through textContent.
(function () {
  "use strict";

  var main = document.getElementById("main");
  var contents = document.getElementById("contents");
  var METHODS = ["get", "put", "post", "patch", "delete"];
  var MAX_DEPTH = 12;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  // A description, its `backticked` words as code (the document's only Markdown).
  function prose(tag, text, attrs) {
    var node = el(tag, attrs);
    String(text).split("`").forEach(function (part, i) {
      node.appendChild(i % 2 ? el("code", { text: part }) : document.createTextNode(part));
    });
    return node;
  }

  function anchor(text) { return String(text).replace(/[^A-Za-z0-9_-]+/g, "-"); }
  function refName(ref) { return decodeURIComponent(String(ref).split("/").pop()); }
  function literal(value) { return value === null ? "null" : JSON.stringify(value); }

  // ---- schemas ----------------------------------------------------------------------------
  function typeWords(schema) {
    if (schema.$ref) return refName(schema.$ref);
    var types = [].concat(schema.type || []);
    var words = types.map(function (t) {
      if (t !== "array") return t;
      return "array of " + (schema.items ? typeWords(schema.items) : "anything");
    });
    if (!words.length && schema.oneOf) return "one of";
    if (!words.length && schema.anyOf) return "any of";
    return words.join(" or ") || "any";
  }

  function facts(schema) {
    var out = [];
    if (schema.format) out.push("format " + schema.format);
    if (schema.enum) out.push("one of " + schema.enum.map(literal).join(", "));
    if (schema.const !== undefined) out.push("exactly " + literal(schema.const));
    if (schema.pattern) out.push("matches " + schema.pattern);
    if (schema.minLength !== undefined) out.push("at least " + schema.minLength + " characters");
    if (schema.maxLength !== undefined) out.push("at most " + schema.maxLength + " characters");
    if (schema.minimum !== undefined) out.push("≥ " + schema.minimum);
    if (schema.maximum !== undefined) out.push("≤ " + schema.maximum);
    if (schema.minItems !== undefined) out.push("at least " + schema.minItems + " item(s)");
    if (schema.maxItems !== undefined) out.push("at most " + schema.maxItems + " item(s)");
    if (schema.uniqueItems) out.push("no duplicates");
    if (schema.additionalProperties === false) out.push("no other fields");
    if (schema.default !== undefined) out.push("default " + literal(schema.default));
    if (schema.examples) out.push("e.g. " + schema.examples.map(literal).join(", "));
    return out;
  }

  // One schema: its type and constraints, its description, then what it holds.
  function schemaView(schema, depth) {
    if (!schema || typeof schema !== "object") return el("span", { class: "type", text: "any" });
    if (schema.$ref) {
      return el("a", { class: "type", href: "#schema-" + anchor(refName(schema.$ref)), text: refName(schema.$ref) });
    }
    var box = el("div", { class: "schema" }, [el("span", { class: "type", text: typeWords(schema) })]);
    var said = facts(schema);
    if (said.length) box.appendChild(el("span", { class: "facts", text: " — " + said.join("; ") }));
    if (schema.description) box.appendChild(prose("p", schema.description, { class: "description" }));
    if (depth >= MAX_DEPTH) return box;
    if (schema.properties) box.appendChild(propertiesView(schema, depth + 1));
    var items = schema.items;
    if (items && (items.properties || items.oneOf || items.anyOf)) {
      box.appendChild(el("p", { class: "label", text: "Each item:" }));
      box.appendChild(schemaView(items, depth + 1));
    }
    ["oneOf", "anyOf"].forEach(function (key) {
      if (!schema[key]) return;
      box.appendChild(el("p", { class: "label", text: key === "oneOf" ? "Exactly one of:" : "Any of:" }));
      box.appendChild(el("ol", { class: "alternatives" }, schema[key].map(function (s) {
        return el("li", {}, [schemaView(s, depth + 1)]);
      })));
    });
    return box;
  }

  // The fields of an object; below the first level folded, their names in the summary.
  function propertiesView(schema, depth) {
    var required = schema.required || [];
    var names = Object.keys(schema.properties);
    var list = el("ul", { class: "properties" }, names.map(function (name) {
      var needed = required.indexOf(name) >= 0;
      return el("li", {}, [
        el("code", { class: "name", text: name }), " ",
        el("span", { class: needed ? "required" : "optional", text: needed ? "required" : "optional" }),
        schemaView(schema.properties[name], depth),
      ]);
    }));
    if (depth < 2) return list;
    return el("details", { class: "fields" }, [
      el("summary", { text: names.length + " field(s): " + names.join(", ") }), list,
    ]);
  }

  // ---- operations -------------------------------------------------------------------------
  function scopes(operation, doc) {
    var requirements = operation.security || doc.security || [];
    if (!requirements.length) return el("p", { class: "scope", text: "No API key needed." });
    var names = [];
    requirements.forEach(function (r) {
      Object.keys(r).forEach(function (scheme) { names = names.concat(r[scheme]); });
    });
    var node = el("p", { class: "scope" }, ["API key needed"]);
    if (names.length) {
      node.appendChild(document.createTextNode(", with the scope "));
      node.appendChild(el("code", { text: names.join(" or ") }));
    }
    node.appendChild(document.createTextNode("."));
    return node;
  }

  function parametersView(parameters) {
    var table = el("table", { class: "parameters" }, [
      el("caption", { text: "Parameters" }),
      el("thead", {}, [el("tr", {}, ["Name", "In", "Required", "Schema", "Description"].map(function (t) {
        return el("th", { scope: "col", text: t });
      }))]),
    ]);
    table.appendChild(el("tbody", {}, parameters.map(function (p) {
      return el("tr", {}, [
        el("td", {}, [el("code", { text: p.name })]),
        el("td", { text: p.in }),
        el("td", { text: p.required ? "yes" : "no" }),
        el("td", {}, [schemaView(p.schema, 1)]),
        p.description ? prose("td", p.description) : el("td"),
      ]);
    })));
    return table;
  }

  function isRef(content) {
    return Object.keys(content).every(function (type) { return (content[type].schema || {}).$ref; });
  }

  function contentView(content) {
    var types = Object.keys(content || {});
    if (!types.length) return [el("p", { class: "muted", text: "No body." })];
    return types.map(function (type) {
      return el("div", { class: "content" }, [
        el("p", { class: "media" }, [el("code", { text: type })]),
        schemaView(content[type].schema, 0),
      ]);
    });
  }

  function operationView(doc, method, path, operation, id) {
    var title = method.toUpperCase() + " " + path;
    var section = el("section", { class: "operation", id: id, "aria-labelledby": id + "-title" }, [
      el("h3", { id: id + "-title" }, [
        el("span", { class: "method " + method, text: method.toUpperCase() }), " ",
        el("code", { class: "path", text: path }),
      ]),
    ]);
    section.setAttribute("data-operation", title);
    if (operation.summary) section.appendChild(el("p", { class: "summary", text: operation.summary }));
    section.appendChild(scopes(operation, doc));
    if (operation.description) section.appendChild(prose("p", operation.description, { class: "description" }));
    if (operation.parameters && operation.parameters.length) section.appendChild(parametersView(operation.parameters));
    var body = operation.requestBody;
    if (body) {
      section.appendChild(el("h4", { text: "Request body" + (body.required ? " (required)" : " (optional)") }));
      contentView(body.content).forEach(function (node) { section.appendChild(node); });
    }
    section.appendChild(el("h4", { text: "Responses" }));
    var list = el("dl", { class: "responses" });
    var bodies = {};
    Object.keys(operation.responses || {}).sort().forEach(function (status) {
      var response = operation.responses[status];
      list.appendChild(el("dt", {}, [el("span", { class: "status s" + status.charAt(0), text: status }), " ", response.description || ""]));
      // A body already shown (a PUT's 200 and 201) is named, not laid out again.
      var key = JSON.stringify(response.content || null);
      var same = response.content && !isRef(response.content) ? bodies[key] : undefined;
      if (same === undefined) bodies[key] = status;
      list.appendChild(el("dd", {}, same === undefined ? contentView(response.content)
        : [el("p", { class: "muted", text: "The same body as " + same + "." })]));
    });
    section.appendChild(list);
    return section;
  }

  function eachOperation(paths, visit) {
    Object.keys(paths || {}).forEach(function (path) {
      METHODS.forEach(function (method) {
        if (paths[path][method]) visit(method, path, paths[path][method]);
      });
    });
  }

  // ---- the page ---------------------------------------------------------------------------
  function render(doc) {
    var info = doc.info || {};
    document.getElementById("title").textContent = (info.title || "API") + " — version " + (info.version || "?");
    document.title = (info.title || "API") + " reference";
    while (main.firstChild) main.removeChild(main.firstChild);
    if (info.description) main.appendChild(prose("p", info.description, { class: "intro" }));
    var toc = el("ol");
    contents.appendChild(el("h2", { text: "Operations" }));
    contents.appendChild(toc);

    main.appendChild(el("h2", { id: "operations", text: "Operations" }));
    eachOperation(doc.paths, function (method, path, operation) {
      var id = anchor(operation.operationId || method + path);
      toc.appendChild(el("li", {}, [el("a", { href: "#" + id }, [
        el("span", { class: "method " + method, text: method.toUpperCase() }), " " + path,
      ])]));
      main.appendChild(operationView(doc, method, path, operation, id));
    });

    if (doc.webhooks && Object.keys(doc.webhooks).length) {
      main.appendChild(el("h2", { id: "webhooks", text: "Webhooks: what the gateway sends to a shop" }));
      eachOperation(doc.webhooks, function (method, name, operation) {
        main.appendChild(operationView(doc, method, name, operation, "webhook-" + anchor(name)));
      });
    }

    var shared = (doc.components || {}).schemas || {};
    if (Object.keys(shared).length) {
      main.appendChild(el("h2", { id: "schemas", text: "Schemas" }));
      Object.keys(shared).forEach(function (name) {
        main.appendChild(el("section", { class: "component", id: "schema-" + anchor(name), "aria-label": name }, [
          el("h3", {}, [el("code", { text: name })]), schemaView(shared[name], 0),
        ]));
      });
    }
  }

  fetch(main.getAttribute("data-document"), { credentials: "omit" })
    .then(function (response) {
      if (!response.ok) throw new Error("the document answered " + response.status);
      return response.json();
    })
    .then(render)
    .catch(function (e) {
      var loading = document.getElementById("loading");
      loading.setAttribute("role", "alert");
      loading.textContent = "The API description could not be loaded: " + e.message;
    });
})();
