// Package e2e holds Gatehouse's browser tests: the admin console driven in a
// real headless Chromium (chromedp), in a module of its own so that users never download chromedp.
package e2e
