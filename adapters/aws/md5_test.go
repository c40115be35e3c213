package aws_test

import "crypto/md5"

func md5Of(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}
