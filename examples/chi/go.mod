module github.com/gatehousehq/gatehouse/examples/chi

go 1.26.0

replace github.com/gatehousehq/gatehouse => ../..

require (
	github.com/gatehousehq/gatehouse v0.0.0-00010101000000-000000000000
	github.com/go-chi/chi/v5 v5.5.0
)

require (
	github.com/evanphx/json-patch/v5 v5.9.11 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	go.yaml.in/yaml/v2 v2.4.4 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	sigs.k8s.io/yaml v1.6.0 // indirect
)
