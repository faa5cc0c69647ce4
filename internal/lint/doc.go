// Package lint holds repository-wide checks that run as tests: the size of production
// functions, so that a function that grows past what one reader can hold does so on purpose.
package lint
