// Command nbcore-go generates an image, or diagnoses an error reply, through libnbcore's C ABI.
//
//	nbcore-go generate [-size 1K|2K|4K] [-aspect 16:9] [-model ID] PROMPT OUT.png
//	nbcore-go diagnose [-header "Retry-After: 30"] HTTP_STATUS BODY_FILE|-
//
// generate takes the key from GOOGLE_API_KEY or GEMINI_API_KEY; GOOGLE_GEMINI_BASE_URL points it
// at another endpoint (the bundled emulator). It prints every attempt and the cost; on failure the
// class, the server's message and the advice, and it exits with 10 + the status code.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"example.com/nbcore-go/nbcore"
)

func usage() {
	fmt.Fprintf(os.Stderr, `usage:
  %[1]s generate [-size 1K|2K|4K] [-aspect RATIO] [-model ID] PROMPT OUT.png
  %[1]s diagnose [-header "Name: value"]... HTTP_STATUS BODY_FILE|-
`, filepath.Base(os.Args[0]))
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "generate":
		os.Exit(generate(os.Args[2:]))
	case "diagnose":
		os.Exit(diagnose(os.Args[2:]))
	case "version":
		fmt.Printf("libnbcore %s (built against nbcore.h %d)\n", nbcore.Version(), nbcore.HeaderVersion)
	default:
		usage()
	}
}

// extensions maps the image types the API sends to a file name extension.
var extensions = map[string]string{"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}

// outputPath is path, with its extension changed when it names another image type than mime
// (Nano Banana Pro answers JPEG: out.png becomes out.jpg rather than a JPEG called .png).
func outputPath(path, mime string) string {
	ext := strings.ToLower(filepath.Ext(path))
	want, known := extensions[mime]
	switch {
	case !known || ext == want || (want == ".jpg" && ext == ".jpeg"):
		return path
	case ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".webp":
		return strings.TrimSuffix(path, filepath.Ext(path)) + want
	}
	return path
}

func printAttempts(attempts []nbcore.Attempt) {
	for _, a := range attempts {
		line := fmt.Sprintf("attempt %d: %s", a.Number, a.Outcome)
		if a.HTTPStatus != 0 {
			if a.Reason != "" {
				line += fmt.Sprintf(" (HTTP %d, %s)", a.HTTPStatus, a.Reason)
			} else {
				line += fmt.Sprintf(" (HTTP %d)", a.HTTPStatus)
			}
		}
		line += fmt.Sprintf(" in %.2f s", a.Duration.Seconds())
		if a.ServerDelay >= 0 {
			line += fmt.Sprintf("; server asked to wait %.1f s", a.ServerDelay.Seconds())
		}
		if a.ChosenDelay > 0 {
			line += fmt.Sprintf("; waited %.2f s", a.ChosenDelay.Seconds())
		}
		fmt.Println(line)
	}
}

func onEvent(ev nbcore.Event) {
	switch ev.Kind {
	case nbcore.EventAttemptStart:
		fmt.Fprintf(os.Stderr, "[%6.1f s] attempt %d: sending\n", ev.Elapsed.Seconds(), ev.Attempt)
	case nbcore.EventRetryScheduled, nbcore.EventQuotaWait:
		fmt.Fprintf(os.Stderr, "[%6.1f s] waiting %.1f s: %s\n", ev.Elapsed.Seconds(), ev.Delay.Seconds(), ev.Message)
	}
}

func generate(args []string) int {
	fs := flag.NewFlagSet("generate", flag.ExitOnError)
	size := fs.String("size", "", "image size: 1K, 2K or 4K (default: the model's)")
	aspect := fs.String("aspect", "", `aspect ratio, such as "16:9"`)
	model := fs.String("model", "", "model id (default: gemini-3-pro-image-preview)")
	_ = fs.Parse(args)
	if fs.NArg() != 2 {
		usage()
	}
	prompt, out := fs.Arg(0), fs.Arg(1)

	client, err := nbcore.NewClient(nbcore.Options{Model: *model, OnEvent: onEvent})
	if err != nil {
		return fail("client", err)
	}
	defer client.Close()
	res, err := client.Generate(nbcore.Request{Prompt: prompt, ImageSize: *size, AspectRatio: *aspect})
	if err != nil {
		return fail("generate", err)
	}
	printAttempts(res.Attempts)
	img := res.Images[0]
	path := outputPath(out, img.MIME)
	if err := os.WriteFile(path, img.Data, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("wrote %s: %dx%d %s, %d bytes, $%.3f after %d attempt(s)\n", path, img.Width, img.Height, img.MIME,
		len(img.Data), res.CostUSD, len(res.Attempts))
	return 0
}

// fail prints an nbcore error the way a person can act on it and returns the exit status.
func fail(what string, err error) int {
	var nerr *nbcore.Error
	if !errors.As(err, &nerr) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		return 1
	}
	printAttempts(nerr.Attempts)
	fmt.Fprintf(os.Stderr, "%s: %s: %s\n", what, nerr.Code, nerr.Message)
	if nerr.RetryAfter >= 0 {
		fmt.Fprintf(os.Stderr, "retry in: %.1f s\n", nerr.RetryAfter.Seconds())
	}
	fmt.Fprintf(os.Stderr, "advice: %s\n", nerr.Advice)
	return 10 + int(nerr.Code)
}

// headerList collects repeated -header flags.
type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, "\n") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

func diagnose(args []string) int {
	fs := flag.NewFlagSet("diagnose", flag.ExitOnError)
	var headers headerList
	fs.Var(&headers, "header", `a response header, "Name: value" (Retry-After, Content-Type); repeatable`)
	_ = fs.Parse(args)
	if fs.NArg() != 2 {
		usage()
	}
	var status int
	if _, err := fmt.Sscan(fs.Arg(0), &status); err != nil {
		fmt.Fprintf(os.Stderr, "diagnose: HTTP status %q is not a number\n", fs.Arg(0))
		return 2
	}
	var body []byte
	var err error
	if fs.Arg(1) == "-" {
		body, err = io.ReadAll(os.Stdin)
	} else {
		body, err = os.ReadFile(fs.Arg(1))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	d, err := nbcore.Diagnose(status, body, headers.String())
	if err != nil {
		fail("diagnose", err)
		return 2
	}
	fmt.Printf("class:     %s\n", d.Code)
	fmt.Printf("message:   %s\n", d.Message)
	if d.Reason != "" {
		fmt.Printf("reason:    %s\n", d.Reason)
	}
	if d.RetryAfter >= 0 {
		fmt.Printf("retry in:  %.1f s\n", d.RetryAfter.Seconds())
	}
	retryable := "no"
	if d.Retryable {
		retryable = "yes"
	}
	fmt.Printf("retryable: %s\n", retryable)
	fmt.Printf("advice:    %s\n", d.Advice)
	return 0
}
