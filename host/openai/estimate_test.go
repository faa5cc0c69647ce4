package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
	"testing"
)

func noisePNG(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(r.Uint32())
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func chatWith(part string) []byte {
	return []byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},` + part + `]}]}`)
}

func estimate(t *testing.T, body []byte) int64 {
	t.Helper()
	r, err := ParseRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	return r.TokenEstimate
}

// TestEstimateImages: an inline image is estimated at its documented cost, not by its base64
// length (a 1.4 MB PNG is ~765 tokens, not ~470,000).
func TestEstimateImages(t *testing.T) {
	pic := noisePNG(t, 600, 600)
	if len(pic) < 1<<20 {
		t.Fatalf("test image is only %d bytes", len(pic))
	}
	b64 := base64.StdEncoding.EncodeToString(pic)
	got := estimate(t, chatWith(`{"type":"image_url","image_url":{"url":"data:image/png;base64,`+b64+`"}}`))
	if got < 765 || got > 765+100 {
		t.Fatalf("PNG estimate %d, want about 765 (600x600: 4 tiles)", got)
	}
	// Anthropic's form: a base64 source with a data member.
	got = estimate(t, chatWith(`{"type":"image","source":{"type":"base64","media_type":"image/png","data":"`+b64+`"}}`))
	if got < 765 || got > 765+100 {
		t.Fatalf("Anthropic-form PNG estimate %d", got)
	}
	var jb bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 1500, 800))
	img.Set(3, 3, color.Gray{Y: 200})
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		t.Fatal(err)
	}
	got = estimate(t, chatWith(`{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,`+base64.StdEncoding.EncodeToString(jb.Bytes())+`"}}`))
	if want := imageTokens(1500, 800); got < want || got > want+100 || want != 1105 {
		t.Fatalf("JPEG estimate %d, want about %d (1105)", got, want)
	}
	// By URL: a fixed estimate.
	got = estimate(t, chatWith(`{"type":"image_url","image_url":{"url":"https://example.com/cat.png","detail":"high"}}`))
	if got < imageTokensDefault || got > imageTokensDefault+100 {
		t.Fatalf("URL image estimate %d", got)
	}
	// Responses input_image: the URL is the member's value.
	r, err := ParseRequest([]byte(`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://example.com/x.png"}]}]}`))
	if err != nil || r.TokenEstimate < imageTokensDefault {
		t.Fatalf("Responses image estimate %d, %v", r.TokenEstimate, err)
	}
}

func TestEstimatePDFAndAudio(t *testing.T) {
	var pdf strings.Builder
	pdf.WriteString("%PDF-1.7\n1 0 obj << /Type /Pages /Count 3 >> endobj\n")
	for i := range 3 {
		fmt.Fprintf(&pdf, "%d 0 obj << /Type /Page /Parent 1 0 R >> endobj\n", i+2)
	}
	pdf.WriteString(strings.Repeat("x", 4000))
	part := `{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,` + base64.StdEncoding.EncodeToString([]byte(pdf.String())) + `"}}`
	if got := estimate(t, chatWith(part)); got < 3*pdfTokensPerPage || got > 3*pdfTokensPerPage+100 {
		t.Fatalf("3-page PDF estimate %d, want about %d", got, 3*pdfTokensPerPage)
	}
	// Ten seconds of 16 kHz mono 16-bit WAV.
	wav := make([]byte, 44+320000)
	copy(wav, "RIFF")
	copy(wav[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(wav[28:], 32000)
	part = `{"type":"input_audio","input_audio":{"data":"` + base64.StdEncoding.EncodeToString(wav) + `","format":"wav"}}`
	if got := estimate(t, chatWith(part)); got < 10*audioTokensPerSecond || got > 10*audioTokensPerSecond+100 {
		t.Fatalf("10 s WAV estimate %d, want about %d", got, 10*audioTokensPerSecond)
	}
}

// TestEstimateToolsAndSchemas: tool definitions and output schemas are prompt tokens too.
func TestEstimateToolsAndSchemas(t *testing.T) {
	base := estimate(t, []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	tools := `[{"type":"function","function":{"name":"get_weather","description":"` + strings.Repeat("w", 4000) + `","parameters":{"type":"object"}}}]`
	withTools := estimate(t, []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":`+tools+`}`))
	if withTools-base < 1000 {
		t.Fatalf("tools add %d tokens, want about %d", withTools-base, len(tools)/4)
	}
	schema := `{"type":"json_schema","json_schema":{"name":"x","schema":{"description":"` + strings.Repeat("s", 2000) + `"}}}`
	withSchema := estimate(t, []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":`+schema+`}`))
	if withSchema-base < 500 {
		t.Fatalf("schema adds %d tokens", withSchema-base)
	}
}

// TestEstimateTextUnchanged: plain text stays at about four bytes a token, whatever it says
// about data.
func TestEstimateTextUnchanged(t *testing.T) {
	msg := `[{"role":"user","content":"the \"database\" and data: are words, data:image/png;base64,AAAA is short"}]`
	got := estimate(t, []byte(`{"model":"m","messages":`+msg+`}`))
	if want := int64(len(msg)+3) / 4; got != want {
		t.Fatalf("text estimate %d, want %d", got, want)
	}
}

func FuzzEstimateContent(f *testing.F) {
	f.Add([]byte(`[{"content":[{"image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]`))
	f.Add([]byte(`{"data":"JVBERi0xLjcK"}`))
	f.Add([]byte(`"data:;base64,"`))
	f.Add([]byte(`"data"   :  "`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := estimateContent(b); n < 0 {
			t.Fatalf("negative estimate %d", n)
		}
	})
}

func BenchmarkEstimateText(b *testing.B) {
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 300) + `"}]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}
