// Starts Swagger UI on /docs (service/api/docs_page.py). A file of ours rather than an inline script: the page's
// Content-Security-Policy runs scripts from this server only.
"use strict";

(() => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // Never the badge image from validator.swagger.io (it would send that host this spec's URL): BaseLayout
    // shows none today, the setting keeps it so.
    validatorUrl: null,
  });
})();
