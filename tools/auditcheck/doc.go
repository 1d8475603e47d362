// Package auditcheck holds the test that keeps AUDIT.md honest: every test,
// fuzz target, example and file it names must exist. It has no API.
package auditcheck
