package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/openai"
)

// parseRequest scans a client's body and checks what the client chose the size of before any
// later stage spends work on it: the model name, the number of messages and of tools. Each
// refusal is a 400 naming the parameter.
func parseRequest(body []byte, sc *config.Server) (*openai.Request, *openai.Error) {
	req, err := openai.ParseRequest(body)
	if err != nil {
		e := openai.Errorf(400, openai.CodeInvalidJSON, "request body: "+err.Error())
		var de *openai.DuplicateKeyError
		if errors.As(err, &de) {
			e.Code, e.Param = openai.CodeDuplicateKey, de.Key
		}
		return nil, e
	}
	if req.Model != "" {
		if e := modelError(req.Model); e != nil {
			return nil, e
		}
	}
	if sc.MaxMessages > 0 && req.Messages > sc.MaxMessages {
		return nil, tooMany("messages", req.Messages, sc.MaxMessages, "server.max_messages")
	}
	if sc.MaxTools > 0 && req.Tools > sc.MaxTools {
		return nil, tooMany("tools", req.Tools, sc.MaxTools, "server.max_tools")
	}
	return req, nil
}

func tooMany(param string, n, max int, key string) *openai.Error {
	code := openai.CodeTooManyMessages
	if param == "tools" {
		code = openai.CodeTooManyTools
	}
	e := openai.Errorf(400, code, fmt.Sprintf("the request has %d %s; at most %d are allowed (%s)", n, param, max, key))
	e.Param = param
	return e
}

// maxExcludes bounds the x-sluice-exclude list: each entry is matched against every target of
// every plan, so its length is work the client chooses.
const maxExcludes = 64

// maxPinBytes bounds x-sluice-provider and each x-sluice-exclude entry (a provider or a
// provider/model pair).
const maxPinBytes = 2 * openai.MaxModelName

// checkSluiceHeaders refuses override headers longer than anything they can name.
func checkSluiceHeaders(h http.Header) *openai.Error {
	if v := h.Get("X-Sluice-Provider"); len(v) > maxPinBytes {
		return openai.Errorf(400, openai.CodeInvalidHeader, fmt.Sprintf("x-sluice-provider is %d bytes long; at most %d are allowed", len(v), maxPinBytes))
	}
	v := h.Get("X-Sluice-Exclude")
	if v == "" {
		return nil
	}
	if n := strings.Count(v, ",") + 1; n > maxExcludes {
		return openai.Errorf(400, openai.CodeInvalidHeader, fmt.Sprintf("x-sluice-exclude lists %d entries; at most %d are allowed", n, maxExcludes))
	}
	for part := range strings.SplitSeq(v, ",") {
		if len(part) > maxPinBytes {
			return openai.Errorf(400, openai.CodeInvalidHeader, fmt.Sprintf("an x-sluice-exclude entry is %d bytes long; at most %d are allowed", len(part), maxPinBytes))
		}
	}
	return nil
}
