// `express4` is `npm:express@^4`, installed beside Express 5 so both are tested; it ships no
// types of its own, and what the tests use of it is what @types/express describes.
declare module 'express4' {
  import express from 'express'
  export default express
}
