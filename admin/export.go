package admin

import (
	"mime"
	"net/http"
	"strings"

	configfile "github.com/gatehousehq/gatehouse/config"
)

// export serves GET /api/export: the whole configuration as a declarative
// file (package config), secrets left out. JSON unless ?format=yaml or an
// Accept of application/yaml asks for YAML; ?gateway_id= names the gateway
// whose consumer groups and plugins it holds (default WithGatewayID's).
func (h *Handler) export(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := configfile.FormatJSON
	if f := q.Get("format"); f != "" {
		var err error
		if format, err = configfile.ParseFormat(f); err != nil {
			writeError(w, badRequest("unknown export format", map[string]string{"format": "must be json or yaml"}))
			return
		}
	} else if acceptsYAML(r.Header.Get("Accept")) {
		format = configfile.FormatYAML
	}
	gw := q.Get("gateway_id")
	if gw == "" {
		gw = h.gatewayID
	}
	f, err := configfile.Export(r.Context(), h.store, configfile.WithRegistry(h.reg), configfile.WithGatewayID(gw))
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	out, err := configfile.Marshal(f, format)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	hd := w.Header()
	if format == configfile.FormatYAML {
		hd.Set("Content-Type", "application/yaml")
	} else {
		hd.Set("Content-Type", "application/json")
	}
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// acceptsYAML reports whether an Accept header asks for YAML before JSON
// (application/yaml, application/x-yaml, text/yaml).
func acceptsYAML(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/yaml", "application/x-yaml", "text/yaml":
			return true
		case "application/json":
			return false
		}
	}
	return false
}
