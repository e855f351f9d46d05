// The alerts page.
