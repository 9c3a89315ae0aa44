module github.com/gatehousehq/gatehouse/bench

go 1.26.0

require (
	github.com/auth0/go-jwt-middleware/v2 v2.3.1
	github.com/gatehousehq/gatehouse v0.0.0
	github.com/golang-jwt/jwt/v5 v5.3.1
)

require (
	github.com/evanphx/json-patch/v5 v5.9.11 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	gopkg.in/go-jose/go-jose.v2 v2.6.3 // indirect
)

replace github.com/gatehousehq/gatehouse => ../
