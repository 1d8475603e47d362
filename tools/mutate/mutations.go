package main

// mutations is the curated list. Each entry breaks one property; AUDIT.md
// names the property and the tests expected to catch it.
var mutations = []Mutation{}
