package validation_test

import (
	"errors"
	"fmt"

	"github.com/gatehousehq/gatehouse/validation"
)

func ExampleError() {
	var e validation.Error
	e.Add("username", "is required")
	e.Merge("plugins.key-auth", validation.Field("header", "must not be empty"))
	err := e.Err()

	fmt.Println(err)
	fmt.Println(errors.Is(err, validation.ErrInvalid))
	// Output:
	// invalid plugins.key-auth.header: must not be empty; username: is required
	// true
}
