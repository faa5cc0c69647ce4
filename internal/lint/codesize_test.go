package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// maxLines is the length past which a production function must either be split by what it
// does or be named in allowed with the reason it stays whole.
const maxLines = 80

// testDoubles are directories of code that only tests and benchmarks run: fake upstreams whose
// validators mirror a provider's schema one member at a time. They are not production code.
var testDoubles = map[string]bool{
	"internal/fakeprovider": true,
}

// allowed lists the production functions longer than maxLines that stay whole, keyed by
// "path/to/file.go:Func" (methods as "Type.Method"), each with why. Entries marked "to split"
// are debt: the function does several things and is waiting for its own change.
var allowed = map[string]string{
	// One table.
	"cmd/sluicebench/scenario_dialects.go:init":    "one table: the registration of the dialect scenarios",
	"plugins/internal/paramdoc/paramdoc.go:Render": "one document: the generated parameter page, its prose and the table rows in order",

	// To split, each with the change that reshapes its package.
	"host/gateway/passthrough.go:Gateway.servePassthrough":  "to split: with the response pipeline",
	"host/gateway/api.go:Gateway.serveAPI":                  "to split: with the response pipeline",
	"host/gateway/hooks_stream.go:Gateway.relayGuarded":     "to split: with the response pipeline",
	"host/gateway/stage_policy.go:Gateway.relayHeld":        "to split: with the response pipeline",
	"host/gateway/api.go:Gateway.attempt":                   "to split: with the response pipeline",
	"host/gateway/count_tokens.go:Gateway.countTokens":      "to split: with the response pipeline",
	"host/gateway/models.go:Gateway.models":                 "to split: with the response pipeline",
	"host/gateway/responses.go:Gateway.responses":           "to split: with the response pipeline",
	"host/gateway/stage_cache.go:Gateway.serveFromCache":    "to split: with the response pipeline",
	"host/gateway/stage_policy.go:Gateway.relayIncremental": "to split: with the response pipeline",
	"plugins/anthropic/request.go:TranslateRequest":         "to split: per request section, as the bedrock and gemini translators do",
	"plugins/anthropic/stream.go:TranslateChunk":            "to split: per event type",
	"plugins/bedrock/request.go:writeMessages":              "to split: per message role",
	"plugins/bedrock/request.go:writeToolConfig":            "to split: tools and tool choice",
	"plugins/bedrock/stream.go:TranslateChunk":              "to split: per event type",
}

// TestFunctionSize fails on the production functions of the main module longer than maxLines
// that are not in allowed, and names the allowed ones that are no longer long so the list can
// shrink with the code (a log line, not a failure: a split in a package reshaped elsewhere
// should not break this test).
func TestFunctionSize(t *testing.T) {
	root := moduleRoot(t)
	long := map[string]int{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") || name == "vendor") {
				return filepath.SkipDir
			}
			if rel, _ := filepath.Rel(root, path); testDoubles[filepath.ToSlash(rel)] {
				return filepath.SkipDir
			}
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
			if n > maxLines {
				long[rel+":"+funcName(fn)] = n
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var over []string
	for k, n := range long {
		if _, ok := allowed[k]; !ok {
			over = append(over, k+" ("+itoa(n)+" lines)")
		}
	}
	sort.Strings(over)
	for _, s := range over {
		t.Errorf("%s: over %d lines; split it by what it does, or add it to allowed with the reason", s, maxLines)
	}
	var stale []string
	for k := range allowed {
		if _, ok := long[k]; !ok {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	for _, k := range stale {
		t.Logf("%s: in allowed but no longer over %d lines (or gone); remove it from the list", k, maxLines)
	}
}

// funcName is the function's name, or "Type.Method" for a method.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
			continue
		case *ast.IndexExpr:
			t = x.X
			continue
		case *ast.IndexListExpr:
			t = x.X
			continue
		case *ast.Ident:
			return x.Name + "." + fn.Name.Name
		}
		return fn.Name.Name
	}
}

// moduleRoot is the directory of the main module's go.mod, found upwards from the test's
// working directory.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("lint: no go.mod above the working directory")
		}
		dir = parent
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
