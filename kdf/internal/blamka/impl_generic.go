//go:build !amd64 || purego

package blamka

func detect() path { return pathGeneric }

func supported() []path { return []path{pathGeneric} }

func processAVX512(out, in1, in2 *Block, xor bool) { processGeneric(out, in1, in2, xor) }

func processAVX2(out, in1, in2 *Block, xor bool) { processGeneric(out, in1, in2, xor) }
