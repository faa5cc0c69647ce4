package config

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

//go:embed default.toml
var defaultTOML []byte

// DefaultName is the Source of the embedded default configuration.
const DefaultName = "embedded default"

// Default returns the embedded default configuration text.
func Default() []byte { return append([]byte(nil), defaultTOML...) }

// Problem is one configuration error or warning, located in its file.
type Problem struct {
	File string
	Line int // 0 when the problem has no single line
	Key  string
	Msg  string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, p.Key, p.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, p.Msg)
}

// Error lists every problem found in a configuration. Nothing of an invalid configuration is
// applied.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "config: " + strings.Join(lines, "\n  ")
}

// Load reads, expands, decodes and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(path, data, os.LookupEnv, filepath.Dir(path))
}

// LoadDefault returns the embedded default configuration, expanded from the environment.
func LoadDefault() (*Config, error) { return Parse(DefaultName, defaultTOML, os.LookupEnv) }

// Parse decodes and validates TOML text; name is used in error messages and lookup resolves
// ${ENV} references.
func Parse(name string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	return parse(name, data, lookup, "")
}

// parse is Parse with relative file paths in the config (plugins, keys file, access log)
// resolved against baseDir, the config file's folder, so a config works from any directory.
func parse(name string, data []byte, lookup func(string) (string, bool), baseDir string) (*Config, error) {
	loc := locate(data)
	expanded, unset, err := expand(data, lookup)
	if err != nil {
		return nil, &Error{Problems: []Problem{{File: name, Line: err.line, Msg: err.msg}}}
	}
	var c Config
	md, derr := toml.Decode(string(expanded), &c)
	if derr != nil {
		var perr toml.ParseError
		if errors.As(derr, &perr) {
			return nil, &Error{Problems: []Problem{{File: name, Line: perr.Position.Line, Msg: perr.Message}}}
		}
		return nil, &Error{Problems: []Problem{{File: name, Line: decodeLine(derr, loc), Key: decodeKey(derr), Msg: cleanDecodeError(derr)}}}
	}
	v := &validator{file: name, loc: loc, unset: unset}
	var unknown []string
	for _, k := range md.Undecoded() {
		ks := k.String()
		// Free-form tables (a plugin's config, a provider's options) take any keys; the TOML
		// decoder reports keys of their nested tables as undecoded all the same.
		if len(k) > 3 && ((k[0] == "plugins" && k[2] == "config") || (k[0] == "providers" && k[2] == "options")) {
			continue
		}
		// Everything under an unknown table is unknown too; naming the table is enough.
		if slices.ContainsFunc(unknown, func(u string) bool { return strings.HasPrefix(ks, u+".") }) {
			continue
		}
		unknown = append(unknown, ks)
		// The locator knows keys unquoted: pricing.openai/gpt-4o, not pricing."openai/gpt-4o".
		v.errs = append(v.errs, Problem{File: name, Line: loc.line(strings.Join(k, ".")), Key: ks, Msg: "unknown key"})
	}
	checkTables(v, &md)
	c.Source = name
	if baseDir != "" {
		c.resolvePaths(baseDir)
	}
	c.applyDefaults(v)
	c.validate(v)
	if len(v.errs) > 0 {
		sort.SliceStable(v.errs, func(i, j int) bool { return v.errs[i].Line < v.errs[j].Line })
		return nil, &Error{Problems: v.errs}
	}
	c.Warnings = v.warns
	return &c, nil
}

// decodeLine finds the line of a type error such as `toml: line 7 (last key "server.listen")`.
var lineRE = regexp.MustCompile(`line (\d+)`)

func decodeLine(err error, _ *locator) int {
	m := lineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n := 0
	fmt.Sscan(m[1], &n)
	return n
}

var lastKeyRE = regexp.MustCompile(`\(last key "([^"]*)"\)`)

// decodeKey finds the key of a type error, so that the problem names what to fix.
func decodeKey(err error) string {
	if m := lastKeyRE.FindStringSubmatch(err.Error()); m != nil {
		return m[1]
	}
	return ""
}

// tableKeys are the keys decoded into Go maps. The TOML decoder silently skips a scalar given
// where such a table belongs (providers = "openai"), so they are checked here.
var tableKeys = []string{
	"aliases", "providers", "plugins", "routers", "pricing", "telemetry.headers",
	"providers.*.headers", "providers.*.options", "providers.*.deployments",
	"plugins.*.config", "routers.*.aliases",
}

func checkTables(v *validator, md *toml.MetaData) {
	for _, k := range md.Keys() {
		for _, pat := range tableKeys {
			p := strings.Split(pat, ".")
			if len(p) != len(k) {
				continue
			}
			match := true
			for i := range p {
				if p[i] != "*" && p[i] != k[i] {
					match = false
					break
				}
			}
			if match && md.Type(k...) != "Hash" {
				v.errAt(k.String(), "must be a table, not %s", strings.ToLower(md.Type(k...)))
			}
		}
	}
}

func cleanDecodeError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "toml: ")
	if i := strings.Index(s, "): "); i >= 0 && strings.HasPrefix(s, "line ") {
		s = s[i+3:]
	}
	return s
}

type expandErr struct {
	line int
	msg  string
}

var envRef = regexp.MustCompile(`\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expand replaces ${NAME} and ${NAME:-default} in the raw text, escaped for a TOML basic
// string, so that line numbers stay true. $${ writes a literal ${. It returns, per line, the
// variables that were referenced but unset.
func expand(data []byte, lookup func(string) (string, bool)) ([]byte, map[int][]string, *expandErr) {
	unset := map[int][]string{}
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		if !strings.Contains(line, "${") {
			continue
		}
		if j := strings.Index(line, "${"); j >= 0 && strings.Contains(line[:j], "#") && !strings.Contains(line[:j], "\"") {
			continue // in a comment
		}
		lines[i] = envRef.ReplaceAllStringFunc(line, func(m string) string {
			if m == "$${" {
				return "${"
			}
			sub := envRef.FindStringSubmatch(m)
			val, ok := lookup(sub[1])
			if !ok || val == "" {
				if sub[2] != "" {
					val = sub[3]
				} else {
					unset[i+1] = append(unset[i+1], sub[1])
				}
			}
			return escapeBasic(val)
		})
	}
	return []byte(strings.Join(lines, "\n")), unset, nil
}

// escapeBasic escapes s for the inside of a TOML basic string. Control characters other than
// tab are not allowed there unescaped.
func escapeBasic(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// locator maps dotted key paths to the line where they are written, so that every problem can
// name its line even though the TOML decoder does not expose key positions.
type locator struct {
	lines map[string]int
	raw   map[string]string // the value text before expansion
}

var (
	headerRE = regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$`)
	keyRE    = regexp.MustCompile(`^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=\s*(.*)$`)
)

func splitKey(s string) []string {
	var parts []string
	for _, p := range strings.Split(s, ".") {
		p = strings.TrimSpace(p)
		p = strings.Trim(p, `"'`)
		parts = append(parts, p)
	}
	return parts
}

func locate(data []byte) *locator {
	l := &locator{lines: map[string]int{}, raw: map[string]string{}}
	var table []string
	itable := ""              // table with array-of-tables indexes: "auth.keys[1].limits[0]"
	elems := map[string]int{} // indexed path of an array of tables -> elements seen
	depth := 0                // open brackets of a multi-line value
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if depth > 0 {
			depth += strings.Count(line, "[") + strings.Count(line, "{") - strings.Count(line, "]") - strings.Count(line, "}")
			continue
		}
		if m := headerRE.FindStringSubmatch(line); m != nil && !strings.Contains(line, "=") {
			table = splitKey(m[1])
			p := strings.Join(table, ".")
			if _, ok := l.lines[p]; !ok {
				l.lines[p] = n
			}
			itable = indexPath(table, strings.HasPrefix(strings.TrimSpace(line), "[["), elems)
			if _, ok := l.lines[itable]; !ok {
				l.lines[itable] = n
			}
			continue
		}
		if m := keyRE.FindStringSubmatch(line); m != nil {
			full := strings.Join(append(append([]string(nil), table...), splitKey(m[1])...), ".")
			if _, ok := l.lines[full]; !ok {
				l.lines[full] = n
				l.raw[full] = m[2]
			}
			if itable != "" {
				ifull := itable + "." + strings.Join(splitKey(m[1]), ".")
				if _, ok := l.lines[ifull]; !ok {
					l.lines[ifull] = n
				}
			}
			val := stripComment(m[2])
			depth = strings.Count(val, "[") + strings.Count(val, "{") - strings.Count(val, "]") - strings.Count(val, "}")
			if depth < 0 {
				depth = 0
			}
		}
	}
	return l
}

// indexPath writes a table header's path with the current element index of every array of
// tables in it, counting a new element when the header itself is [[...]].
func indexPath(parts []string, isArray bool, elems map[string]int) string {
	p := ""
	for i, part := range parts {
		if p != "" {
			p += "."
		}
		p += part
		if i == len(parts)-1 && isArray {
			elems[p]++
			return fmt.Sprintf("%s[%d]", p, elems[p]-1)
		}
		if n := elems[p]; n > 0 {
			p = fmt.Sprintf("%s[%d]", p, n-1)
		}
	}
	return p
}

func stripComment(v string) string {
	inStr := byte(0)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inStr != 0:
			if c == '\\' && inStr == '"' {
				i++
			} else if c == inStr {
				inStr = 0
			}
		case c == '"' || c == '\'':
			inStr = c
		case c == '#':
			return v[:i]
		}
	}
	return v
}

// line returns the line of key, or of its nearest written ancestor.
func (l *locator) line(key string) int {
	for k := key; k != ""; {
		if n, ok := l.lines[k]; ok {
			return n
		}
		if strings.HasSuffix(k, "]") {
			// targets[2] falls back to targets.
			if i := strings.LastIndex(k, "["); i > 0 {
				k = k[:i]
				continue
			}
		}
		i := strings.LastIndex(k, ".")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

func (c *Config) resolvePaths(base string) {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	for _, p := range c.Plugins {
		if p != nil {
			p.Path = abs(p.Path)
		}
	}
	c.Auth.KeysFile = abs(c.Auth.KeysFile)
	switch c.Log.Access {
	case "", "stderr", "stdout", "off":
	default:
		c.Log.Access = abs(c.Log.Access)
	}
}
