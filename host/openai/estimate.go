package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
)

// Token estimates for limits, made before the upstream counts. Text is about four bytes a
// token. Media sent inline (data URLs, and the "data" members Anthropic, Gemini and OpenAI's
// audio parts use) is not text: an image costs what the providers document for its size, a
// PDF a fixed amount per page, audio by its length; a URL to an image costs a fixed amount.
const (
	bytesPerToken = 4
	// imageTokensDefault is a 1024x1024 image at OpenAI's high detail (85 + 4 tiles x 170),
	// for an image whose size cannot be read.
	imageTokensDefault = 765
	// pdfTokensPerPage covers a page's text and its page image (Anthropic documents
	// 1,500-3,000 text tokens a page plus the image).
	pdfTokensPerPage = 2000
	// audioTokensPerSecond is OpenAI's audio input rate (about 1,500 tokens a minute).
	audioTokensPerSecond = 25
	// mediaTokensDefault is any other inline binary.
	mediaTokensDefault = 1000
	// minInline is the shortest string taken for inline media; shorter ones are text.
	minInline = 128
	// sniffBytes is how much of an inline payload is decoded to read its type and size;
	// pdfDecodeMax bounds the decode that counts a PDF's pages.
	sniffBytes   = 64 << 10
	pdfDecodeMax = 8 << 20
)

// estimateContent estimates the tokens of a messages/input/system value.
func estimateContent(v []byte) int64 {
	var media, mediaBytes int64
	for i := 0; ; {
		j := bytes.Index(v[i:], []byte(`"data`))
		if j < 0 {
			break
		}
		at := i + j + len(`"data`)
		i = at
		var payload []byte
		var start int
		switch {
		case at < len(v) && v[at] == ':': // a data URL: "data:<mime>;base64,<payload>"
			end := bytes.IndexByte(v[at:], '"')
			if end < 0 {
				continue
			}
			url := v[at : at+end]
			comma := bytes.Index(url, []byte(";base64,"))
			if comma < 0 {
				continue
			}
			start, payload = at-len(`data`), url[comma+len(";base64,"):]
			i = at + end
		case at < len(v) && v[at] == '"': // a "data" member holding base64
			k := skipSpace(v, at+1)
			if k >= len(v) || v[k] != ':' {
				continue
			}
			if k = skipSpace(v, k+1); k >= len(v) || v[k] != '"' {
				continue
			}
			end := bytes.IndexByte(v[k+1:], '"')
			if end < 0 {
				continue
			}
			start, payload = k+1, v[k+1:k+1+end]
			i = k + 1 + end
		default:
			continue
		}
		if len(payload) < minInline {
			continue
		}
		media += mediaTokens(payload)
		mediaBytes += int64(i - start)
	}
	text := max(int64(len(v))-mediaBytes, 0)
	return (text+bytesPerToken-1)/bytesPerToken + media + imageURLs(v)*imageTokensDefault
}

// imageURLs counts images sent by URL ("image_url" members whose value, or whose url, is an
// http(s) URL); inline ones are counted as media.
func imageURLs(v []byte) int64 {
	var n int64
	for i := 0; ; {
		j := bytes.Index(v[i:], []byte(`"image_url"`))
		if j < 0 {
			return n
		}
		i += j + len(`"image_url"`)
		k := skipSpace(v, i)
		if k >= len(v) || v[k] != ':' { // the type's value, not the member
			continue
		}
		k = skipSpace(v, k+1)
		if k < len(v) && v[k] == '{' {
			u := bytes.Index(v[k:min(len(v), k+256)], []byte(`"url"`))
			if u < 0 {
				continue
			}
			k = skipSpace(v, k+u+len(`"url"`))
			if k >= len(v) || v[k] != ':' {
				continue
			}
			k = skipSpace(v, k+1)
		}
		if bytes.HasPrefix(v[k:], []byte(`"http`)) {
			n++
		}
	}
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// mediaTokens estimates one base64 payload by what it decodes to.
func mediaTokens(b64 []byte) int64 {
	head := decodePrefix(b64, sniffBytes)
	switch {
	case len(head) >= 4 && string(head[:4]) == "%PDF":
		pdf := head
		if len(b64) <= base64.StdEncoding.EncodedLen(pdfDecodeMax) {
			pdf = decodePrefix(b64, pdfDecodeMax)
		}
		pages := int64(bytes.Count(pdf, []byte("/Type/Page")) + bytes.Count(pdf, []byte("/Type /Page")) -
			bytes.Count(pdf, []byte("/Type/Pages")) - bytes.Count(pdf, []byte("/Type /Pages")))
		if len(pdf) < base64.StdEncoding.DecodedLen(len(b64)) || pages <= 0 {
			// Too large to count, or pages in compressed object streams: ~50 KB a page.
			pages = max(pages, int64(base64.StdEncoding.DecodedLen(len(b64)))/(50<<10)+1)
		}
		return pages * pdfTokensPerPage
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		secs := int64(1)
		if len(head) >= 32 {
			if rate := int64(binary.LittleEndian.Uint32(head[28:32])); rate > 0 {
				secs = max(int64(base64.StdEncoding.DecodedLen(len(b64)))/rate, 1)
			}
		}
		return secs * audioTokensPerSecond
	case len(head) >= 3 && (string(head[:3]) == "ID3" || head[0] == 0xFF && head[1]&0xE0 == 0xE0):
		// MP3 at about 128 kbit/s.
		return max(int64(base64.StdEncoding.DecodedLen(len(b64)))/(16<<10), 1) * audioTokensPerSecond
	}
	if w, h, ok := imageSize(head); ok {
		return imageTokens(w, h)
	}
	if isImage(head) {
		return imageTokensDefault
	}
	return mediaTokensDefault
}

// imageTokens is OpenAI's high-detail cost: fit in 2048x2048, shortest side to 768, then 170
// per 512-pixel tile plus 85. It lies between Anthropic's (w*h/750) and Gemini's (258 per
// 768-pixel tile) for common sizes.
func imageTokens(w, h int) int64 {
	fw, fh := float64(w), float64(h)
	if s := 2048 / max(fw, fh); s < 1 {
		fw, fh = fw*s, fh*s
	}
	if s := 768 / min(fw, fh); s < 1 {
		fw, fh = fw*s, fh*s
	}
	tiles := int64((fw+511)/512) * int64((fh+511)/512)
	return 85 + 170*tiles
}

func decodePrefix(b64 []byte, n int) []byte {
	m := min(len(b64), base64.StdEncoding.EncodedLen(n))
	m -= m % 4
	out := make([]byte, base64.StdEncoding.DecodedLen(m))
	k, _ := base64.StdEncoding.Decode(out, b64[:m])
	return out[:k]
}

func isImage(h []byte) bool {
	return bytes.HasPrefix(h, []byte("\x89PNG")) || bytes.HasPrefix(h, []byte{0xFF, 0xD8}) ||
		bytes.HasPrefix(h, []byte("GIF8")) || len(h) >= 12 && string(h[:4]) == "RIFF" && string(h[8:12]) == "WEBP"
}

// imageSize reads the pixel size from a PNG, GIF, WebP or JPEG header.
func imageSize(h []byte) (w, hgt int, ok bool) {
	switch {
	case len(h) >= 24 && bytes.HasPrefix(h, []byte("\x89PNG\r\n\x1a\n")):
		return int(binary.BigEndian.Uint32(h[16:20])), int(binary.BigEndian.Uint32(h[20:24])), true
	case len(h) >= 10 && bytes.HasPrefix(h, []byte("GIF8")):
		return int(binary.LittleEndian.Uint16(h[6:8])), int(binary.LittleEndian.Uint16(h[8:10])), true
	case len(h) >= 30 && string(h[:4]) == "RIFF" && string(h[8:12]) == "WEBP":
		switch string(h[12:16]) {
		case "VP8 ":
			return int(binary.LittleEndian.Uint16(h[26:28]) & 0x3fff), int(binary.LittleEndian.Uint16(h[28:30]) & 0x3fff), true
		case "VP8L":
			b := binary.LittleEndian.Uint32(h[21:25])
			return int(b&0x3fff) + 1, int(b>>14&0x3fff) + 1, true
		case "VP8X":
			return int(uint32(h[24])|uint32(h[25])<<8|uint32(h[26])<<16) + 1, int(uint32(h[27])|uint32(h[28])<<8|uint32(h[29])<<16) + 1, true
		}
	case len(h) >= 4 && h[0] == 0xFF && h[1] == 0xD8:
		for i := 2; i+9 < len(h); {
			if h[i] != 0xFF {
				return 0, 0, false
			}
			marker := h[i+1]
			if marker == 0xD8 || marker == 0x01 || marker >= 0xD0 && marker <= 0xD7 {
				i += 2
				continue
			}
			size := int(binary.BigEndian.Uint16(h[i+2 : i+4]))
			if marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC {
				return int(binary.BigEndian.Uint16(h[i+7 : i+9])), int(binary.BigEndian.Uint16(h[i+5 : i+7])), true
			}
			i += 2 + size
		}
	}
	return 0, 0, false
}
