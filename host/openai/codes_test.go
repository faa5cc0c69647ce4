package openai

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// codeUse is one place the code base names an error code.
type codeUse struct {
	code   string
	status int // the literal status next to it, 0 when there is none
	where  string
}

// TestEveryCodeIsCatalogued walks host/ and cmd/ and fails on an error code that is not in
// Codes: the literal or catalogue constant given to Errorf, adminError, a stream's Fail or the
// Responses bridge's bad, a Code field of an error literal or assignment, a variable named
// code, a "code" key of a JSON map,
// a string a Code method returns, and host/plugin's Code constants. Where Errorf has a literal
// status, it must be the catalogued one. Every catalogued code must be used somewhere.
func TestEveryCodeIsCatalogued(t *testing.T) {
	consts := catalogueConstants(t)
	var uses []codeUse
	root := filepath.Join("..", "..")
	for _, dir := range []string{"host", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			uses = append(uses, codeUses(t, path, consts)...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(uses) < 60 {
		t.Fatalf("found only %d uses of error codes; the scan is broken", len(uses))
	}
	used := map[string]bool{}
	for _, u := range uses {
		used[u.code] = true
		info, ok := Codes[u.code]
		if !ok {
			t.Errorf("%s: error code %q is not in the catalogue (host/openai/codes.go)", u.where, u.code)
			continue
		}
		if u.status != 0 && info.Status != 0 && u.status != info.Status {
			t.Errorf("%s: %q answered %d; the catalogue says %d", u.where, u.code, u.status, info.Status)
		}
	}
	for code := range Codes {
		if !used[code] {
			t.Errorf("catalogued code %q is used nowhere; remove it", code)
		}
	}
	for name, v := range consts {
		if _, ok := Codes[v]; !ok {
			t.Errorf("constant %s (%q) has no entry in Codes", name, v)
		}
	}
}

// catalogueConstants maps the Code* constant names of codes.go to their values.
func catalogueConstants(t *testing.T) map[string]string {
	f, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if v, ok := stringLit(vs.Values[i]); ok {
					out[n.Name] = v
				}
			}
		}
	}
	return out
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

func codeUses(t *testing.T, path string, consts map[string]string) []codeUse {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	pkg := filepath.ToSlash(filepath.Dir(path))
	inOpenAI := strings.HasSuffix(pkg, "host/openai")
	var out []codeUse
	// code resolves a literal, or a catalogue constant (openai.CodeX, or CodeX inside this
	// package), to its code.
	code := func(e ast.Expr) (string, bool) {
		if s, ok := stringLit(e); ok {
			return s, true
		}
		switch x := e.(type) {
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok && id.Name == "openai" {
				v, ok := consts[x.Sel.Name]
				return v, ok
			}
		case *ast.Ident:
			if inOpenAI {
				v, ok := consts[x.Name]
				return v, ok
			}
		}
		return "", false
	}
	add := func(n ast.Node, c string, status ast.Expr) {
		st := 0
		if status != nil {
			if bl, ok := status.(*ast.BasicLit); ok && bl.Kind == token.INT {
				st, _ = strconv.Atoi(bl.Value)
			}
		}
		out = append(out, codeUse{code: c, status: st, where: fset.Position(n.Pos()).String()})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CallExpr:
			name, isOpenAI := "", false
			switch fn := x.Fun.(type) {
			case *ast.SelectorExpr:
				name = fn.Sel.Name
				id, ok := fn.X.(*ast.Ident)
				isOpenAI = ok && id.Name == "openai"
			case *ast.Ident:
				name, isOpenAI = fn.Name, inOpenAI
			}
			switch {
			case name == "Errorf" && isOpenAI && len(x.Args) > 1:
				if c, ok := code(x.Args[1]); ok {
					add(x, c, x.Args[0])
				}
			case name == "adminError" && len(x.Args) > 2:
				if c, ok := code(x.Args[2]); ok {
					add(x, c, x.Args[1])
				}
			case name == "Fail" && len(x.Args) > 1:
				if c, ok := code(x.Args[0]); ok {
					add(x, c, nil)
				}
			case name == "bad" && strings.HasSuffix(pkg, "host/responsesapi") && len(x.Args) > 1:
				if c, ok := code(x.Args[1]); ok {
					add(x, c, nil)
				}
			}
		case *ast.KeyValueExpr:
			if k, ok := x.Key.(*ast.Ident); ok && k.Name == "Code" {
				if c, ok := code(x.Value); ok {
					add(x, c, nil)
				}
			}
			if k, ok := stringLit(x.Key); ok && k == "code" {
				if c, ok := code(x.Value); ok {
					add(x, c, nil)
				}
			}
		case *ast.AssignStmt:
			for i, l := range x.Lhs {
				sel, isSel := l.(*ast.SelectorExpr)
				id, isIdent := l.(*ast.Ident)
				if (isSel && sel.Sel.Name == "Code" || isIdent && id.Name == "code") && i < len(x.Rhs) {
					if c, ok := code(x.Rhs[i]); ok {
						add(x, c, nil)
					}
				}
			}
		case *ast.FuncDecl:
			if x.Name.Name == "Code" && x.Recv != nil && x.Body != nil {
				ast.Inspect(x.Body, func(n ast.Node) bool {
					if r, ok := n.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
						if c, ok := code(r.Results[0]); ok {
							add(r, c, nil)
						}
					}
					return true
				})
			}
		case *ast.GenDecl:
			// host/plugin's own codes are constants named Code*.
			if x.Tok == token.CONST && strings.HasSuffix(pkg, "host/plugin") {
				for _, s := range x.Specs {
					vs := s.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if strings.HasPrefix(n.Name, "Code") && i < len(vs.Values) {
							if c, ok := stringLit(vs.Values[i]); ok {
								add(n, c, nil)
							}
						}
					}
				}
			}
		}
		return true
	})
	return out
}
