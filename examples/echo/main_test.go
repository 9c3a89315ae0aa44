package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEchoDescribesTheRequest(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/a/b?x=1", nil)
	r.Header.Set("X-Consumer-Username", "alice")
	w := httptest.NewRecorder()
	echo(w, r)
	var got reply
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Equal(t, "POST", got.Method)
	require.Equal(t, "/a/b", got.Path)
	require.Equal(t, "x=1", got.Query)
	require.Equal(t, []string{"alice"}, got.Headers["X-Consumer-Username"])
}
