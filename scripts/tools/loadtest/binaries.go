package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"github.com/ai-rails/state-service/shared/lambdatest"
)

// functions are the Lambda functions that make build packages.
var functions = []string{"workflow", "approval", "results", "sweeper"}

// buildFunctions builds each function as scripts/build.sh does, for this
// machine's architecture, and the Runtime Interface Emulator. It returns
// the bootstraps by function and the emulator's path.
func buildFunctions(ctx context.Context, root, dir string) (map[string]string, string, error) {
	module := filepath.Join(root, "functions")
	out := map[string]string{}
	for _, fn := range functions {
		bin := filepath.Join(dir, fn, "bootstrap")
		if err := lambdatest.Build(ctx, module, bin, "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "./"+fn); err != nil {
			return nil, "", err
		}
		out[fn] = bin
	}
	rie := filepath.Join(dir, "aws-lambda-rie")
	if err := lambdatest.Build(ctx, module, rie, lambdatest.Package); err != nil {
		return nil, "", err
	}
	return out, rie, nil
}

// coldStart starts bootstrap under the emulator n times, invokes it once
// each time with event, and returns the median INIT duration in ms.
func coldStart(rie, bootstrap string, env []string, event []byte, n int) (float64, error) {
	var inits []float64
	for range n {
		ms, err := coldStartOnce(rie, bootstrap, env, event)
		if err != nil {
			return 0, err
		}
		inits = append(inits, ms)
	}
	slices.Sort(inits)
	return inits[len(inits)/2], nil
}

func coldStartOnce(rie, bootstrap string, env []string, event []byte) (float64, error) {
	e, err := lambdatest.Start(rie, bootstrap, env)
	if err != nil {
		return 0, err
	}
	defer e.Stop()
	resp, err := http.Post(e.URL, "application/json", bytes.NewReader(event))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return e.WaitInitMs(5 * time.Second)
}
