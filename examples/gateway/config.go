package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"

	"sigs.k8s.io/yaml"
)

// configFile is the declarative file of -config. Each object has the fields of
// its admin API resource; a consumer may list its credentials inline.
//
//	consumers:
//	  - username: alice
//	    credentials:
//	      - id: alice-key
//	        name: main
//	        plugins: {key-auth: {key: alice-secret-key}}
//	groups:
//	  - id: shop
//	    name: Shop APIs
//	consumer_groups:           # in the gateway this data plane serves (-gateway-id)
//	  - id: premium
//	    name: Premium Users
//	    required_plugins:
//	      - name: advanced_rate_limiter
//	        settings: {limits: {per_user: {limit: 50, window: 1m}}}
//	routes:
//	  - id: orders
//	    groups: [shop]
//	    frontend: {paths: [/orders]}
//	    backend: {target: "http://127.0.0.1:9000"}
//	    plugins: {key-auth: {}}
type configFile struct {
	Groups         []map[string]json.RawMessage `json:"groups"`
	ConsumerGroups []map[string]json.RawMessage `json:"consumer_groups"`
	Consumers      []map[string]json.RawMessage `json:"consumers"`
	Routes         []map[string]json.RawMessage `json:"routes"`
}

// applyConfig writes every object of the file through the admin API, so that
// it gets exactly the validation (and secret sealing) of an admin request.
// Objects are PUT by id, so applying the same file twice changes nothing.
func applyConfig(ctx context.Context, path string, h http.Handler, key, gatewayID string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	var f configFile
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("want top-level keys groups, consumer_groups, consumers and routes: %w", err)
	}
	put := func(path string, obj map[string]json.RawMessage) error {
		body, _ := json.Marshal(obj)
		req := httptest.NewRequestWithContext(ctx, http.MethodPut, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-KEY", key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			return fmt.Errorf("PUT %s: %d %s", path, rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
		}
		return nil
	}
	for i, grp := range f.Groups {
		id, err := stringField(grp, "id")
		if err != nil {
			return fmt.Errorf("groups[%d]: %w", i, err)
		}
		if id == "" {
			return fmt.Errorf("groups[%d]: id is required", i)
		}
		if err := put("/api/groups/"+url.PathEscape(id), grp); err != nil {
			return err
		}
	}
	for i, grp := range f.ConsumerGroups {
		id, err := stringField(grp, "id")
		if err != nil {
			return fmt.Errorf("consumer_groups[%d]: %w", i, err)
		}
		if id == "" {
			return fmt.Errorf("consumer_groups[%d]: id is required", i)
		}
		if err := put("/api/v1/gateways/"+url.PathEscape(gatewayID)+"/consumer-groups/"+url.PathEscape(id), grp); err != nil {
			return err
		}
	}
	for i, c := range f.Consumers {
		name, err := stringField(c, "username")
		if err != nil {
			return fmt.Errorf("consumers[%d]: %w", i, err)
		}
		if name == "" {
			return fmt.Errorf("consumers[%d]: username is required", i)
		}
		var creds []map[string]json.RawMessage
		if rc, ok := c["credentials"]; ok {
			if err := json.Unmarshal(rc, &creds); err != nil {
				return fmt.Errorf("consumers[%d].credentials: %w", i, err)
			}
			delete(c, "credentials")
		}
		base := "/api/consumers/" + url.PathEscape(name)
		if err := put(base, c); err != nil {
			return err
		}
		for j, cr := range creds {
			id, err := stringField(cr, "id")
			if err != nil {
				return fmt.Errorf("consumers[%d].credentials[%d]: %w", i, j, err)
			}
			if id == "" {
				if id, err = stringField(cr, "name"); err != nil {
					return fmt.Errorf("consumers[%d].credentials[%d]: %w", i, j, err)
				}
			}
			if id == "" {
				return fmt.Errorf("consumers[%d].credentials[%d]: id or name is required", i, j)
			}
			if err := put(base+"/credentials/"+url.PathEscape(id), cr); err != nil {
				return err
			}
		}
	}
	for i, r := range f.Routes {
		id, err := stringField(r, "id")
		if err != nil {
			return fmt.Errorf("routes[%d]: %w", i, err)
		}
		if id == "" {
			return fmt.Errorf("routes[%d]: id is required", i)
		}
		if err := put("/api/routes/"+url.PathEscape(id), r); err != nil {
			return err
		}
	}
	return nil
}

// stringField returns the string field name of obj, "" when it is absent, and
// an error when it is not a string (a YAML 007, say).
func stringField(obj map[string]json.RawMessage, name string) (string, error) {
	raw, ok := obj[name]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s must be a string (quote it in YAML), not %s", name, raw)
	}
	return s, nil
}
