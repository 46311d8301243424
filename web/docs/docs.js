// The interactive API reference: Swagger UI (bundled from npm, served as static
// assets) over the worker's own OpenAPI document. Sending to production needs a
// confirmation, as in the API document's playground.
(async function () {
  const PRODUCTION = "https://auth.allmine.app";
  const warning = document.getElementById("production-warning");

  // The document itself, as the worker serves it to every OpenAPI tool.
  const res = await fetch("/api/v1/openapi.json");
  const spec = await res.json();
  // The server this page came from comes first, so "Try it out" works wherever
  // the docs are opened (a local port, a development deployment).
  if (!spec.servers.some((s) => s.url === location.origin)) {
    spec.servers.unshift({ url: location.origin, description: "This server" });
  }

  const isProduction = (url) => url.startsWith(PRODUCTION);
  const showWarning = (url) => {
    warning.hidden = !isProduction(url);
  };

  window.ui = SwaggerUIBundle({
    spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    requestInterceptor(request) {
      if (
        isProduction(request.url) &&
        !window.confirm(`This request goes to PRODUCTION (${PRODUCTION}) and changes real data. Send it?`)
      ) {
        throw new Error("Not sent: production request cancelled");
      }
      return request;
    },
  });

  document.addEventListener("change", (event) => {
    if (event.target.matches(".servers select")) showWarning(event.target.value);
  });
})();
