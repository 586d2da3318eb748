// Independent check of resque's checkpoints with Go's golang.org/x/mod/sumdb/note
// (the reference implementation of C2SP signed notes).
//
//	go run note-check.go gen          # print the test key's vkey, then a checkpoint signed by Go
//	go run note-check.go open VKEY F  # verify note F with verifier key VKEY; prints the text
//
// Run with GO111MODULE=off GOPATH=/usr/share/gocode (Debian's golang-golang-x-mod-dev).
// The test key's seed is SHA-256("resque checkpoint test key"); its name is
// resque's: "resque-key-" + hex(SHA-256(public key)[:8]).
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
)

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "gen":
		seed := sha256.Sum256([]byte("resque checkpoint test key"))
		priv := ed25519.NewKeyFromSeed(seed[:])
		pub := priv.Public().(ed25519.PublicKey)
		id := sha256.Sum256(pub)
		name := "resque-key-" + hex.EncodeToString(id[:8])
		vkey, err := note.NewEd25519VerifierKey(name, pub)
		check(err)
		v, err := note.NewVerifier(vkey)
		check(err)
		skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, v.KeyHash(),
			base64.StdEncoding.EncodeToString(append([]byte{1}, seed[:]...)))
		signer, err := note.NewSigner(skey)
		check(err)
		root := sha256.Sum256([]byte("root"))
		text := "resque/0123456789abcdef\n12\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
		msg, err := note.Sign(&note.Note{Text: text}, signer)
		check(err)
		fmt.Println(vkey)
		os.Stdout.Write(msg)
	case len(os.Args) == 4 && os.Args[1] == "open":
		v, err := note.NewVerifier(os.Args[2])
		check(err)
		msg, err := os.ReadFile(os.Args[3])
		check(err)
		n, err := note.Open(msg, note.VerifierList(v))
		check(err)
		fmt.Print(n.Text)
	default:
		fmt.Fprintln(os.Stderr, "usage: note-check gen | note-check open VKEY FILE")
		os.Exit(2)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "note-check:", err)
		os.Exit(1)
	}
}
