package config_test

import (
	"context"
	"fmt"
	"os"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/store/memory"
)

// Apply a file twice: the second time nothing changes. Export reads the
// configuration back, without the secret.
func ExampleApply() {
	ctx := context.Background()
	st := memory.New()
	gw, err := gatehouse.New(ctx, st)
	if err != nil {
		panic(err)
	}
	defer gw.Close()

	os.Setenv("ALICE_KEY", "alice-secret-key-0123") // in production: from the deployment
	file, err := config.Parse([]byte(`
groups:
  - {id: shop, name: Shop APIs}
consumers:
  - username: alice
    credentials:
      - name: main
        authorized_entities: [group_shop]
        plugins: {key-auth: {key: "${ALICE_KEY}"}}
routes:
  - id: orders
    groups: [shop]
    frontend: {paths: [/orders]}
    plugins: {key-auth: {}}
`))
	if err != nil {
		panic(err)
	}
	opts := []config.Option{config.WithRegistry(gw.Registry())}
	for range 2 {
		res, err := config.Apply(ctx, st, file, opts...)
		if err != nil {
			panic(err)
		}
		fmt.Println(res)
	}

	exported, err := config.Export(ctx, st, opts...)
	if err != nil {
		panic(err)
	}
	out, _ := config.Marshal(exported, config.FormatYAML)
	fmt.Print(string(out))
	// Output:
	// groups 1 created; consumers 1 created; credentials 1 created; routes 1 created
	// groups 1 unchanged; consumers 1 unchanged; credentials 1 unchanged; routes 1 unchanged
	// consumers:
	// - credentials:
	//   - authorized_entities:
	//     - group_shop
	//     enabled: true
	//     id: main
	//     name: main
	//     plugins:
	//       key-auth:
	//         key_preview: alice-...0123
	//   username: alice
	// groups:
	// - id: shop
	//   name: Shop APIs
	// routes:
	// - frontend:
	//     paths:
	//     - /orders
	//   groups:
	//   - shop
	//   id: orders
	//   plugins:
	//     key-auth: {}
}

// A file with mistakes is refused as a whole, every problem named by path.
func ExampleValidate() {
	ctx := context.Background()
	st := memory.New()
	gw, err := gatehouse.New(ctx, st)
	if err != nil {
		panic(err)
	}
	defer gw.Close()
	file, err := config.Parse([]byte(`
consumers:
  - username: alice
    credentials: [{name: main, plugins: {key-auth: {key: short}}}]
  - username: alice
routes:
  - id: orders
    groups: [nosuchgroup]
    frontend: {paths: [/orders]}
    plugins: {key-auth: {hide_credentials: "yes"}}
`))
	if err != nil {
		panic(err)
	}
	err = config.Validate(ctx, st, file, config.WithRegistry(gw.Registry()))
	fmt.Println(err)
	// Output:
	// config: 4 problems:
	//   consumers[0].credentials[0].plugins.key-auth.key: must be 6 to 512 characters
	//   consumers[1].username: "alice" is also the username of consumers[0]
	//   routes[0].plugins.key-auth.hide_credentials: must be a bool
	//   routes[0].groups: entry 0 ("nosuchgroup") names no service group of the file or the store
}
