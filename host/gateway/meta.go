package gateway

import (
	"strconv"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// metaJSON is the small pre-extracted request description route, cache-key and policy plugins
// receive (sdk/ABI.md): never the whole body, and no credential headers.
func (g *Gateway) metaJSON(c *call) []byte {
	b := make([]byte, 0, 384)
	b = append(b, `{"request_id":`...)
	b = jsonx.AppendString(b, c.id)
	b = append(b, `,"endpoint":`...)
	b = jsonx.AppendString(b, c.endpoint)
	b = append(b, `,"model":`...)
	b = jsonx.AppendString(b, c.req.Model)
	b = append(b, `,"router":`...)
	b = jsonx.AppendString(b, c.router)
	b = append(b, `,"user":`...)
	b = jsonx.AppendString(b, c.ident.User)
	b = append(b, `,"team":`...)
	b = jsonx.AppendString(b, c.ident.Team)
	b = append(b, `,"key_id":`...)
	b = jsonx.AppendString(b, c.ident.KeyID)
	b = append(b, `,"stream":`...)
	b = strconv.AppendBool(b, c.stream)
	b = append(b, `,"token_estimate":`...)
	b = strconv.AppendInt(b, c.req.TokenEstimate, 10)
	b = append(b, `,"max_tokens":`...)
	b = strconv.AppendInt(b, c.req.MaxTokens, 10)
	b = append(b, `,"temperature":`...)
	if c.req.Temperature != nil {
		b = strconv.AppendFloat(b, *c.req.Temperature, 'g', -1, 64)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"headers":{`...)
	n := 0
	for k, vs := range c.r.Header {
		lk := strings.ToLower(k)
		if !metaHeader(lk) || len(vs) == 0 || n >= 32 {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = jsonx.AppendString(b, lk)
		b = append(b, ':')
		b = jsonx.AppendString(b, vs[0])
	}
	b = append(b, `},"now_ms":`...)
	b = strconv.AppendInt(b, time.Now().UnixMilli(), 10)
	return append(b, '}')
}

// metaHeader keeps x-* headers a plugin may route on, and never anything carrying a secret.
func metaHeader(k string) bool {
	if !strings.HasPrefix(k, "x-") {
		return false
	}
	for _, bad := range []string{"key", "auth", "token", "secret", "cookie", "signature", "amz"} {
		if strings.Contains(k, bad) {
			return false
		}
	}
	return true
}
